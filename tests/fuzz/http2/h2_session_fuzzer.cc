// Fuzz target: H2Session (server/http2) on arbitrary client bytes, with an app that answers.
//
// Input: byte 0 = flags (bit 0: the app consumes request bodies; bit 1: small limits; bit 2: the app answers
// at the head rather than at the end of the request; bit 3: the app adds trailers; bit 4: graceful
// shutdown (notice at start, GOAWAY after the first request); bit 5: no client preface is prepended),
// byte 1 = seed of the split, the rest = the bytes from the wire (after the 24-byte client preface unless
// bit 5). The clock is frozen, so the rate limits are exact.
//
// The bytes are fed whole, in pseudo-random pieces and byte by byte with the output taken only at the end:
// the three runs must report the same events, bodies and GOAWAY code (split invariance) — except that a
// stream ending in an error may have received more of its last DATA frame when that frame came in pieces
// (nghttp2 hands over DATA as it arrives and finds, say, a content-length overrun at the byte that breaks
// it), so there the bodies need only extend the whole run's body. A fourth run takes
// the output after every piece and checks the invariants alone. Invariants: open streams within the
// limit; an unconsumed body within the stream window; heads valid (method, origin-form path, lowercase
// names, no pseudo or connection-specific field, host first, the list within its bounds); per stream
// head < data/end < close, each close once and none missing (after Done(), or CloseStreams()); no event after Feed said false; output slices bounded; after
// a teardown and a full drain, Done().
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "server/http2/h2_session.h"

namespace {

using esg::http::Header;
using esg::http2::H2Handler;
using esg::http2::H2Limits;
using esg::http2::H2Session;
using esg::http2::StreamHead;

void Check(bool ok) {
  if (!ok) abort();
}

constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

H2Limits LimitsFor(uint8_t flags) {
  H2Limits l;
  if (flags & 2) {
    l.max_concurrent_streams = 3;
    l.initial_window_size = 100;
    l.connection_window_size = 65535;
    l.max_header_list_size = 200;
    l.max_header_count = 4;
    l.header_table_size = 64;
    l.max_output_buffer = 1024;
    l.reset_burst = 5;
    l.control_burst = 10;
    l.max_continuations = 1;
    l.max_outbound_ack = 8;
  }
  return l;
}

bool ConnectionSpecific(const std::string& n) {
  return n == "connection" || n == "keep-alive" || n == "proxy-connection" || n == "transfer-encoding" ||
         n == "upgrade";
}

struct App : H2Handler {
  H2Session* session = nullptr;
  H2Limits limits;
  uint8_t flags = 0;
  bool torn_down = false;  // Feed said false: nothing may be reported after
  bool goaway_sent = false;
  std::string events;
  std::map<int32_t, std::string> bodies;
  std::map<int32_t, int> state;  // 1 head seen, 2 ended, 3 closed
  std::map<int32_t, size_t> unconsumed;
  size_t total_unconsumed = 0;
  std::map<int32_t, uint32_t> close_codes;

  void Answer(int32_t id) {
    std::vector<Header> h = {{"content-type", "text/plain"}, {"Connection", "close"}};
    Check(session->SubmitResponse(id, 200, h, false));
    Check(session->SubmitData(id, std::string(100 + id % 3000, 'r'), !(flags & 8)));
    if (flags & 8) Check(session->SubmitTrailers(id, {{"x-t", "1"}}));
  }

  void OnStreamHead(int32_t id, StreamHead& sh) override {
    Check(!torn_down && state[id] == 0);
    state[id] = 1;
    const auto& h = sh.head;
    Check(!h.method.empty() && h.method != "CONNECT");
    Check(!h.target.empty() && (h.target[0] == '/' || (h.target == "*" && h.method == "OPTIONS")));
    Check(h.header_count == h.headers.size() && h.headers.size() <= limits.max_header_count);
    size_t list = 0;
    for (size_t i = 0; i < h.headers.size(); ++i) {
      const Header& f = h.headers[i];
      Check(!f.name.empty() && f.name[0] != ':' && !ConnectionSpecific(f.name));
      for (char c : f.name) Check(!(c >= 'A' && c <= 'Z'));
      if (f.name == "host") Check(i == 0);
      list += f.name.size() + f.value.size() + 32;
    }
    // Cookies joined with "; " may add 2 bytes per crumb beyond the 32 each field counted.
    Check(list <= limits.max_header_list_size + 32);
    Check(session->open_streams() <= limits.max_concurrent_streams);
    events += "H" + std::to_string(id) + " " + h.method + " " + h.target + " " + sh.scheme + " " +
              std::to_string(h.content_length) + ";";
    for (const Header& f : h.headers) events += f.name + "=" + f.value + ";";
    if (flags & 16 && !goaway_sent) {
      goaway_sent = true;
      session->Goaway();
    }
    if (flags & 4) Answer(id);
  }
  void OnStreamData(int32_t id, std::string_view chunk) override {
    Check(!torn_down && state[id] == 1 && !chunk.empty());
    bodies[id].append(chunk);
    if (flags & 1) {
      session->Consume(id, chunk.size());
    } else {
      // Before the peer acknowledges ESG's SETTINGS, a new stream has the default 65535-byte window.
      unconsumed[id] += chunk.size();
      total_unconsumed += chunk.size();
      Check(unconsumed[id] <= std::max<size_t>(limits.initial_window_size, 65535));
      Check(total_unconsumed <= std::max<size_t>(limits.connection_window_size, 65535));
    }
  }
  void OnStreamEnd(int32_t id) override {
    Check(!torn_down && state[id] == 1);
    state[id] = 2;
    events += "E" + std::to_string(id) + ";";
    if (!(flags & 4)) Answer(id);
  }
  void OnStreamClose(int32_t id, uint32_t code) override {
    Check(state[id] == 1 || state[id] == 2);
    state[id] = 3;
    close_codes[id] = code;
    events += "C" + std::to_string(id) + ":" + std::to_string(code) + ";";
  }
};

struct Run {
  std::string events;
  std::map<int32_t, std::string> bodies;
  std::map<int32_t, uint32_t> close_codes;
  uint32_t goaway = 0;
  bool alive = true;
};

// Same events and GOAWAY; same bodies, or for a stream that errored, `piece`'s body extends `whole`'s.
bool SameRun(const Run& whole, const Run& piece) {
  if (whole.events != piece.events || whole.goaway != piece.goaway) return false;
  for (const auto& kv : piece.bodies) {
    auto w = whole.bodies.find(kv.first);
    std::string_view wb = w == whole.bodies.end() ? std::string_view() : std::string_view(w->second);
    auto code = piece.close_codes.find(kv.first);
    bool errored = code != piece.close_codes.end() && code->second != 0;
    if (errored ? kv.second.compare(0, wb.size(), wb) != 0 : kv.second != wb) return false;
  }
  for (const auto& kv : whole.bodies)
    if (piece.bodies.find(kv.first) == piece.bodies.end()) return false;
  return true;
}

template <typename NextSize>
Run Drive(uint8_t flags, const std::string& wire, NextSize next_size, bool drain_each) {
  App app;
  app.flags = flags;
  app.limits = LimitsFor(flags);
  H2Session session(app.limits, &app, [] { return int64_t{0}; });
  app.session = &session;
  if (flags & 16) session.ShutdownNotice();
  auto drain = [&] {
    for (int i = 0; i < 100000; ++i) {
      std::string_view out = session.PendingOutput();
      Check(out.size() <= app.limits.max_output_buffer + 16384 + 9);
      if (out.empty()) return;
      session.TakeOutput(out.size() / 2 + 1);  // partial writes, as a socket does
    }
    Check(false);
  };
  size_t pos = 0;
  Run run;
  while (pos < wire.size()) {
    size_t n = std::min(next_size(), wire.size() - pos);
    size_t before = app.events.size();
    bool ok = session.Feed(wire.data() + pos, n);
    if (!run.alive) Check(!ok && app.events.size() == before);
    if (!ok) {
      run.alive = false;
      app.torn_down = true;
      Check(!session.error().empty() && session.goaway_code() != 0);
    }
    pos += n;
    if (drain_each) drain();
  }
  drain();
  if (!run.alive) Check(session.Done());
  // Every reported stream is closed exactly once: by now if the session is done, else by CloseStreams().
  if (session.Done())
    for (const auto& kv : app.state) Check(kv.second == 3);
  session.CloseStreams();
  for (const auto& kv : app.state) Check(kv.second == 3);
  run.events = std::move(app.events);
  run.bodies = std::move(app.bodies);
  run.close_codes = std::move(app.close_codes);
  run.goaway = session.goaway_code();
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2 || size > 65536) return 0;
  uint8_t flags = data[0];
  uint32_t seed = data[1] * 2654435761u + 1;
  std::string wire = (flags & 32) ? std::string() : std::string(kPreface, 24);
  wire.append(reinterpret_cast<const char*>(data + 2), size - 2);
  size_t total = wire.size();
  Run whole = Drive(flags, wire, [&] { return total; }, false);
  Run split = Drive(flags, wire, [&] {
    seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
    return size_t{1} + seed % 97;
  }, false);
  Run bytes = Drive(flags, wire, [] { return size_t{1}; }, false);
  Check(SameRun(whole, split));
  Check(SameRun(whole, bytes));
  Drive(flags, wire, [&] {
    seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
    return size_t{1} + seed % 997;
  }, true);
  return 0;
}
