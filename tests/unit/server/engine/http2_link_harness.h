// The harness of the Http2Link tests (http2_link_test.cc, http2_link_deadlines_test.cc): a real Connection
// with --http2 on a socketpair, driven by hand with the stand-in host and app of fake_host.h (fake clock, the
// test answers every stream), and a real nghttp2 *client* session (H2Client) on the other end. The bytes go
// through the socket both ways, so what the client sees is what a client on the wire would see: responses,
// RST_STREAMs, GOAWAYs, flow control, the close. Deadlines are crossed by moving the fake clock; no test sleeps.
#pragma once

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <map>
#include <string>
#include <vector>

#include "server/engine/connection.h"
#include "server/engine/http2_link.h"
#include "tests/unit/server/engine/fake_host.h"

namespace esg::engine::h2test {


using fakes::ConnectionHarness;
using fakes::CountingObserver;
using fakes::HoldingApp;
using http::Header;

inline constexpr std::string_view kPreface("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);

// What the client learnt about one stream.
struct Response {
  int status = 0;
  std::vector<Header> headers;
  std::string body;
  bool closed = false;
  uint32_t close_code = 0;
  bool reset = false;  // an RST_STREAM arrived for it
  uint32_t reset_code = 0;
};

// A request body the client sends: all of it, or its first `ready` bytes and then nothing more (a stalled
// upload: the data source answers DEFERRED).
struct Upload {
  std::string data;
  size_t sent = 0;
  size_t ready = SIZE_MAX;
};

// A real nghttp2 client session, pumped through the socket by the test.
class H2Client {
 public:
  // window: the client's SETTINGS_INITIAL_WINDOW_SIZE; auto_window: WINDOW_UPDATEs as data arrives (off:
  // the window opens only by ConsumeAll). A large window also opens the connection window that far.
  explicit H2Client(uint32_t window = 65535, bool auto_window = true) {
    nghttp2_session_callbacks* cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, OnData);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, OnClose);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, OnFrame);
    nghttp2_option* opt;
    nghttp2_option_new(&opt);
    if (!auto_window) nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_session_client_new2(&s_, cb, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window}};
    nghttp2_submit_settings(s_, NGHTTP2_FLAG_NONE, iv, 1);
    if (window > 65535) nghttp2_submit_window_update(s_, NGHTTP2_FLAG_NONE, 0, static_cast<int32_t>(window - 65535));
  }
  ~H2Client() { nghttp2_session_del(s_); }

  int32_t Request(const std::string& method, const std::string& path, Upload* body = nullptr,
                  std::vector<Header> extra = {}) {
    std::vector<Header> h = {{":method", method}, {":scheme", "http"}, {":authority", "example.com"}, {":path", path}};
    for (auto& e : extra) h.push_back(e);
    std::vector<nghttp2_nv> nva;
    for (auto& f : h) {
      nva.push_back({reinterpret_cast<uint8_t*>(f.name.data()), reinterpret_cast<uint8_t*>(f.value.data()),
                     f.name.size(), f.value.size(), NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_data_provider prd;
    if (body != nullptr) {
      prd.source.ptr = body;
      prd.read_callback = ReadBody;
    }
    int32_t id = nghttp2_submit_request(s_, nullptr, nva.data(), nva.size(), body ? &prd : nullptr, nullptr);
    EXPECT_GT(id, 0) << nghttp2_strerror(id);
    return id;
  }
  // Gives back the window of every DATA byte received so far (with auto_window off).
  void ConsumeAll() {
    for (auto& [id, n] : unconsumed_) {
      if (n > 0) nghttp2_session_consume(s_, id, n);
      n = 0;
    }
  }

  std::string Output() {
    std::string out;
    for (;;) {
      const uint8_t* p;
      ssize_t n = nghttp2_session_mem_send(s_, &p);
      if (n <= 0) break;
      out.append(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
    }
    return out;
  }
  void Input(std::string_view in) {
    ssize_t n = nghttp2_session_mem_recv(s_, reinterpret_cast<const uint8_t*>(in.data()), in.size());
    EXPECT_EQ(n, static_cast<ssize_t>(in.size())) << "the client rejected the server's bytes: "
                                                  << nghttp2_strerror(static_cast<int>(n));
  }

  nghttp2_session* s_;
  std::map<int32_t, Response> resps;
  std::vector<int32_t> completed;  // streams in the order they closed

 private:
  static H2Client* Self(void* ud) { return static_cast<H2Client*>(ud); }
  static int OnHeader(nghttp2_session*, const nghttp2_frame* f, const uint8_t* n, size_t nl, const uint8_t* v,
                      size_t vl, uint8_t, void* ud) {
    Response& r = Self(ud)->resps[f->hd.stream_id];
    std::string name(reinterpret_cast<const char*>(n), nl), value(reinterpret_cast<const char*>(v), vl);
    if (name == ":status") {
      r.status = std::stoi(value);
    } else {
      r.headers.push_back({name, value});
    }
    return 0;
  }
  static int OnData(nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t n, void* ud) {
    Self(ud)->resps[id].body.append(reinterpret_cast<const char*>(d), n);
    Self(ud)->unconsumed_[id] += n;
    return 0;
  }
  static int OnClose(nghttp2_session*, int32_t id, uint32_t code, void* ud) {
    Response& r = Self(ud)->resps[id];
    r.closed = true;
    r.close_code = code;
    Self(ud)->completed.push_back(id);
    return 0;
  }
  static int OnFrame(nghttp2_session*, const nghttp2_frame* f, void* ud) {
    if (f->hd.type == NGHTTP2_RST_STREAM) {
      Response& r = Self(ud)->resps[f->hd.stream_id];
      r.reset = true;
      r.reset_code = f->rst_stream.error_code;
    }
    return 0;
  }
  static ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t* buf, size_t len, uint32_t* flags,
                          nghttp2_data_source* src, void*) {
    auto* b = static_cast<Upload*>(src->ptr);
    size_t limit = std::min(b->ready, b->data.size());
    if (b->sent >= limit && b->sent < b->data.size()) return NGHTTP2_ERR_DEFERRED;
    size_t n = std::min(len, limit - b->sent);
    memcpy(buf, b->data.data() + b->sent, n);
    b->sent += n;
    if (b->sent == b->data.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  std::map<int32_t, size_t> unconsumed_;
};

inline std::string Field(const std::vector<Header>& hs, const std::string& name) {
  for (auto& h : hs) {
    if (h.name == name) return h.value;
  }
  return "<none>";
}

class Http2LinkTest : public ConnectionHarness {
 protected:
  void SetUp() override { config_.http2 = true; }

  // Moves bytes both ways (client → socket → connection → socket → client) until nothing moves for a few
  // rounds. read = false: the client reads nothing (a client that does not read its socket).
  void Pump(bool read = true) {
    for (int idle = 0, i = 0; idle < 3 && i < 10000; ++i) {
      bool moved = false;
      up_ += client->Output();
      if (!up_.empty() && !client_closed_) {
        ssize_t n = send(client_, up_.data(), up_.size(), MSG_NOSIGNAL);
        if (n > 0) {
          up_.erase(0, static_cast<size_t>(n));
          moved = true;
        }
      }
      Run(2);
      while (read && !eof) {
        char buf[1 << 16];
        ssize_t n = recv(client_, buf, sizeof buf, 0);
        if (n > 0) {
          client->Input(std::string_view(buf, static_cast<size_t>(n)));
          wire.append(buf, static_cast<size_t>(n));
          moved = true;
        } else {
          if (n == 0) eof = true;
          break;
        }
      }
      idle = moved ? 0 : idle + 1;
    }
  }

  // Advances the fake clock by `seconds` (the host's tick), then lets the bytes flow.
  void Tick(double seconds, bool read = true) {
    Advance(seconds);
    Pump(read);
  }

  // Opens the connection and completes the HTTP/2 handshake (preface, SETTINGS both ways).
  void OpenH2() {
    Open();
    Pump();
    ASSERT_NE(connection_, nullptr);
  }

  StreamPtr AppStream(size_t i) {
    EXPECT_GT(app_.streams.size(), i);
    return i < app_.streams.size() ? app_.streams[i] : nullptr;
  }

  // Replaces the client before OpenH2 (its window settings).
  void UseClient(uint32_t window, bool auto_window = true) { client = std::make_unique<H2Client>(window, auto_window); }

  std::unique_ptr<H2Client> client = std::make_unique<H2Client>();
  std::string up_;
  bool eof = false;  // the server closed (or shut down) its side
  bool client_closed_ = false;
  std::string wire;  // every byte the server sent, as the client read it

  // The GOAWAY frames in `wire` (a client session ignores a GOAWAY that follows another one with no stream
  // open, so the frames are counted on the wire): their last stream ids, in order.
  std::vector<int32_t> Goaways(uint32_t* last_code = nullptr) const {
    std::vector<int32_t> out;
    for (size_t at = 0; at + 9 <= wire.size();) {
      const auto* p = reinterpret_cast<const uint8_t*>(wire.data() + at);
      size_t len = (size_t{p[0]} << 16) | (size_t{p[1]} << 8) | p[2];
      if (p[3] == NGHTTP2_GOAWAY && at + 9 + 8 <= wire.size()) {
        const uint8_t* q = p + 9;
        out.push_back(static_cast<int32_t>(((q[0] & 0x7fu) << 24) | (q[1] << 16) | (q[2] << 8) | q[3]));
        if (last_code) *last_code = (uint32_t{q[4]} << 24) | (q[5] << 16) | (q[6] << 8) | q[7];
      }
      at += 9 + len;
    }
    return out;
  }
  // How many frames of `type` for `stream` (with all of `flags` set) are in `wire`.
  int CountFrames(uint8_t type, int32_t stream, uint8_t flags = 0) const {
    int n = 0;
    for (size_t at = 0; at + 9 <= wire.size();) {
      const auto* p = reinterpret_cast<const uint8_t*>(wire.data() + at);
      size_t len = (size_t{p[0]} << 16) | (size_t{p[1]} << 8) | p[2];
      int32_t id = static_cast<int32_t>(((p[5] & 0x7fu) << 24) | (p[6] << 16) | (p[7] << 8) | p[8]);
      if (p[3] == type && id == stream && (p[4] & flags) == flags) ++n;
      at += 9 + len;
    }
    return n;
  }
};

}  // namespace esg::engine::h2test
