// Fuzz target: the WebSocket frame parser (WsFrameParser) on arbitrary client bytes.
//
// Input: byte 0 = flags (bit 0: permessage-deflate negotiated, bits 1-3: message limit from kLimits),
// byte 1 = seed of the split, the rest = the bytes from the wire. The bytes are parsed whole, in pseudo-random
// pieces and byte by byte; the three runs must give the same events, error and consumed count (split
// invariance). Invariants checked on every run: a message's data never passes the limit, control payloads
// are at most 125 bytes, data arrives only inside a message, no event after the parser stopped, and an
// error is 1002 or 1009.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "server/http/websocket.h"

namespace {

using esg::http::WsFrameHandler;
using esg::http::WsFrameParser;
using esg::http::WsOpcode;

constexpr uint64_t kLimits[8] = {0, 1, 7, 125, 126, 1000, 65536, 1 << 24};

void Check(bool ok) {
  if (!ok) abort();
}

struct Recorder : WsFrameHandler {
  uint64_t limit = 0;
  bool in_message = false;
  uint64_t message_bytes = 0;
  std::string events;  // canonical: data of one message is joined whatever the pieces

  bool OnMessageStart(bool text, bool compressed) override {
    Check(!in_message);
    in_message = true;
    message_bytes = 0;
    events += text ? "[T" : "[B";
    events += compressed ? "c|" : "-|";
    return true;
  }
  bool OnMessageData(std::string_view data) override {
    Check(in_message && !data.empty());
    message_bytes += data.size();
    Check(message_bytes <= limit);
    events.append(data);
    return true;
  }
  bool OnMessageEnd() override {
    Check(in_message);
    in_message = false;
    events += "]";
    return true;
  }
  bool OnControl(WsOpcode opcode, std::string_view payload) override {
    Check(payload.size() <= WsFrameParser::kMaxControlPayload);
    Check(opcode == WsOpcode::kClose || opcode == WsOpcode::kPing || opcode == WsOpcode::kPong);
    events += "{" + std::to_string(static_cast<int>(opcode)) + ":" + std::to_string(payload.size()) + ":";
    events.append(payload);
    events += "}";
    // A close frame ends parsing, as the session does.
    return opcode != WsOpcode::kClose;
  }
};

struct Run {
  std::string events;
  int error = 0;
  size_t consumed = 0;
};

// Feeds `input` in pieces of the sizes `next_size` gives; stops where the parser stops.
template <typename NextSize>
Run Parse(bool rsv1, uint64_t limit, const uint8_t* data, size_t size, NextSize next_size) {
  std::vector<char> buf(data, data + size);  // the parser unmasks in place
  WsFrameParser parser(rsv1, limit);
  Recorder r;
  r.limit = limit;
  Run run;
  size_t pos = 0;
  while (pos < size) {
    size_t n = std::min(next_size(), size - pos);
    size_t events_before = r.events.size();
    bool was_stopped = parser.stopped();
    size_t used = parser.Feed(buf.data() + pos, n, &r);
    Check(used <= n);
    if (was_stopped) Check(used == 0 && r.events.size() == events_before);
    run.consumed += used;
    if (used < n) {
      Check(parser.stopped());  // only a stop leaves input unconsumed
      break;
    }
    pos += n;
  }
  run.events = std::move(r.events);
  run.error = parser.error_code();
  Check(run.error == 0 || run.error == 1002 || run.error == 1009);
  if (run.error) Check(parser.stopped() && !parser.error_reason().empty());
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  bool rsv1 = data[0] & 1;
  uint64_t limit = kLimits[(data[0] >> 1) & 7];
  uint32_t seed = data[1] * 2654435761u + 1;
  data += 2;
  size -= 2;
  Run whole = Parse(rsv1, limit, data, size, [&] { return size ? size : 1; });
  Run split = Parse(rsv1, limit, data, size, [&] {
    seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
    return size_t{1} + seed % 23;
  });
  Run bytes = Parse(rsv1, limit, data, size, [] { return size_t{1}; });
  Check(whole.events == split.events && whole.error == split.error && whole.consumed == split.consumed);
  Check(whole.events == bytes.events && whole.error == bytes.error && whole.consumed == bytes.consumed);
  return 0;
}
