// Fuzzes the master's reader of the worker -> master channel (server/master/worker_protocol.h).
//
// Input: byte 0 picks a line cap (small caps reach the overflow path quickly; 0 means the real
// kMaxWorkerMessageBytes), bytes 1-2 seed the split points, the rest is the stream a worker wrote. Checked:
//  - no crash or exception, for every line ParseWorkerMessage sees;
//  - the buffer never holds more than the cap;
//  - split invariance: the whole stream in one Feed and the same bytes in arbitrary pieces deliver the
//    same lines and the same overflow verdict;
//  - no delivered line is longer than the cap or contains a newline.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "server/master/worker_protocol.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

struct Outcome {
  std::vector<std::string> lines;
  bool ok = true;
};

Outcome Run(size_t cap, std::string_view stream, const std::vector<size_t>& cuts) {
  esg::WorkerMessageReader reader(cap);
  Outcome out;
  size_t start = 0;
  auto feed = [&](std::string_view piece) {
    bool ok = reader.Feed(piece, [&](std::string_view line) {
      Check(line.size() <= cap);
      Check(line.find('\n') == std::string_view::npos);
      out.lines.emplace_back(line);
    });
    Check(reader.buffered() <= cap);
    if (!ok) out.ok = false;
    Check(ok == !reader.overflowed());
  };
  for (size_t cut : cuts) {
    feed(stream.substr(start, cut - start));
    start = cut;
  }
  feed(stream.substr(start));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const size_t cap = data[0] == 0 ? esg::kMaxWorkerMessageBytes : data[0];
  uint32_t seed = data[1] | (data[2] << 8);
  std::string_view stream(reinterpret_cast<const char*>(data) + 3, size - 3);

  Outcome whole = Run(cap, stream, {});
  std::vector<size_t> cuts;
  size_t at = 0;
  while (stream.size() > 0) {
    seed = seed * 1103515245u + 12345u;
    at += 1 + (seed >> 16) % 7;
    if (at >= stream.size()) break;
    cuts.push_back(at);
  }
  Outcome split = Run(cap, stream, cuts);
  Check(whole.ok == split.ok);
  Check(whole.lines == split.lines);
  std::vector<size_t> bytewise;
  for (size_t i = 1; i < stream.size() && stream.size() < 4096; ++i) bytewise.push_back(i);
  if (!bytewise.empty()) {
    Outcome one_by_one = Run(cap, stream, bytewise);
    Check(one_by_one.ok == whole.ok && one_by_one.lines == whole.lines);
  }

  for (const std::string& line : whole.lines) {
    esg::WorkerMessage m = esg::ParseWorkerMessage(line);
    if (m.kind != esg::WorkerMessage::Kind::kStartupFailed) Check(m.message.empty());
    if (m.kind == esg::WorkerMessage::Kind::kMalformed || m.kind == esg::WorkerMessage::Kind::kUnknown ||
        m.kind == esg::WorkerMessage::Kind::kReady) {
      Check(m.requests == 0 && m.rss == 0);
    }
  }
  return 0;
}
