// Tests for Http2Link (server/engine/http2_link.h): a real Connection with --http2 on a socketpair, driven by
// hand with the stand-in host and app of fake_host.h (fake clock, the test answers every stream), and a real
// nghttp2 *client* session on the other end. The bytes go through the socket both ways, so what the client
// sees is what a client on the wire would see: responses, RST_STREAMs, GOAWAYs, flow control, the close.
// Deadlines are crossed by moving the fake clock; no test sleeps.
#include "server/engine/http2_link.h"

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
#include "tests/unit/server/engine/fake_host.h"

namespace esg::engine {
namespace {

using fakes::ConnectionHarness;
using fakes::CountingObserver;
using fakes::HoldingApp;
using http::Header;

constexpr std::string_view kPreface("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);

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

std::string Field(const std::vector<Header>& hs, const std::string& name) {
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

// ------------------------------------------------------------------ exchanges

TEST_F(Http2LinkTest, GetIsAnsweredWithStatusHeadersAndBody) {
  OpenH2();
  int32_t id = client->Request("GET", "/hello?x=1");
  Pump();
  ASSERT_EQ(app_.streams.size(), 1u);
  EXPECT_EQ(app_.targets[0], "/hello?x=1");
  StreamPtr s = AppStream(0);
  EXPECT_EQ(s->http_major, 2);
  EXPECT_EQ(s->http_minor, 0);
  EXPECT_EQ(s->method, "GET");
  EXPECT_TRUE(s->body_complete());
  EXPECT_EQ(host_->in_flight, 1u);
  s->response().Begin(201);
  const char* reason = nullptr;
  ASSERT_TRUE(s->response().Add("x-answer", "forty-two", &reason));
  EXPECT_EQ(s->SendBody("hello h2", false), SendResult::kOk);
  Pump();
  const Response& r = client->resps[id];
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.close_code, 0u);
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "hello h2");
  EXPECT_EQ(Field(r.headers, "x-answer"), "forty-two");
  EXPECT_EQ(Field(r.headers, "date"), "Thu, 01 Jan 2026 00:00:00 GMT");
  EXPECT_NE(Field(r.headers, "server"), "<none>");
  EXPECT_EQ(Field(r.headers, "content-length"), "8");
  // No connection-specific field leaks from the HTTP/1.1-shaped head.
  EXPECT_EQ(Field(r.headers, "connection"), "<none>");
  EXPECT_EQ(Field(r.headers, "transfer-encoding"), "<none>");
  EXPECT_EQ(host_->in_flight, 0u);
  EXPECT_EQ(host_->requests_finished, 1u);
  EXPECT_FALSE(eof);
  ASSERT_NE(connection_, nullptr);
}

TEST_F(Http2LinkTest, StreamedResponseWithoutLengthArrivesWhole) {
  OpenH2();
  int32_t id = client->Request("GET", "/stream");
  Pump();
  StreamPtr s = AppStream(0);
  s->response().Begin(200);
  EXPECT_EQ(s->SendBody("one,", true), SendResult::kOk);
  EXPECT_EQ(s->SendBody("two,", true), SendResult::kOk);
  Pump();
  EXPECT_FALSE(client->resps[id].closed);
  EXPECT_EQ(s->SendBody("three", false), SendResult::kOk);
  Pump();
  EXPECT_TRUE(client->resps[id].closed);
  EXPECT_EQ(client->resps[id].close_code, 0u);
  EXPECT_EQ(client->resps[id].body, "one,two,three");
  EXPECT_EQ(Field(client->resps[id].headers, "transfer-encoding"), "<none>");
  EXPECT_EQ(host_->requests_finished, 1u);
  EXPECT_EQ(host_->in_flight, 0u);
}

TEST_F(Http2LinkTest, ConcurrentStreamsAnsweredOutOfOrder) {
  OpenH2();
  int32_t a = client->Request("GET", "/a");
  int32_t b = client->Request("GET", "/b");
  int32_t c = client->Request("GET", "/c");
  Pump();
  // All three reach the app at once (no head-of-line blocking as with HTTP/1.1 pipelining).
  ASSERT_EQ(app_.targets, std::vector<std::string>({"/a", "/b", "/c"}));
  EXPECT_EQ(host_->in_flight, 3u);
  HoldingApp::Answer(app_.streams[2], "answer c");
  Pump();
  HoldingApp::Answer(app_.streams[0], "answer a");
  Pump();
  HoldingApp::Answer(app_.streams[1], "answer b");
  Pump();
  EXPECT_EQ(client->completed, std::vector<int32_t>({c, a, b}));
  EXPECT_EQ(client->resps[a].body, "answer a");
  EXPECT_EQ(client->resps[b].body, "answer b");
  EXPECT_EQ(client->resps[c].body, "answer c");
  for (int32_t id : {a, b, c}) {
    EXPECT_EQ(client->resps[id].status, 200);
    EXPECT_EQ(client->resps[id].close_code, 0u);
  }
  EXPECT_EQ(host_->in_flight, 0u);
  EXPECT_EQ(host_->requests_finished, 3u);
}

TEST_F(Http2LinkTest, EagerAppAnswersManyStreamsAndTheirLinksAreFreed) {
  app_.answer_at_once = true;
  OpenH2();
  std::vector<int32_t> ids;
  for (int i = 0; i < 50; ++i) ids.push_back(client->Request("GET", "/" + std::to_string(i)));
  Pump();
  ASSERT_EQ(app_.streams.size(), 50u);
  for (int32_t id : ids) {
    EXPECT_EQ(client->resps[id].status, 200);
    EXPECT_EQ(client->resps[id].body, "ok");
  }
  EXPECT_EQ(host_->in_flight, 0u);
  EXPECT_EQ(host_->requests_finished, 50u);
  // Closed streams are freed at the next tick: the app holds the only reference to each HttpStream.
  Advance(0.25);
  for (const StreamPtr& s : app_.streams) EXPECT_EQ(s.use_count(), 1);
}

// ------------------------------------------------------------------ flow control

TEST_F(Http2LinkTest, ReadingPausesWhileTheClientDoesNotReadAndResumesWhenItDoes) {
  app_.answer_at_once = true;
  app_.answer = std::string(4096, 'a');
  UseClient(1 << 30);  // windows wide open: only the socket holds the responses back
  OpenH2();
  std::vector<int32_t> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back(client->Request("GET", "/" + std::to_string(i)));
  Pump(/*read=*/false);
  // The socket and the session's output buffer are full: the server stopped reading requests (at most
  // the concurrency limit of them are open, the rest wait in the client).
  size_t started = app_.streams.size();
  EXPECT_LT(started, ids.size());
  Pump(/*read=*/false);
  EXPECT_EQ(app_.streams.size(), started);
  Pump();
  ASSERT_EQ(app_.streams.size(), ids.size());
  for (int32_t id : ids) {
    ASSERT_EQ(client->resps[id].body.size(), 4096u) << id;
    EXPECT_EQ(client->resps[id].close_code, 0u);
  }
  EXPECT_EQ(host_->in_flight, 0u);
  EXPECT_EQ(host_->requests_finished, ids.size());
}

TEST_F(Http2LinkTest, HeadRequestGetsNoBody) {
  OpenH2();
  int32_t id = client->Request("HEAD", "/h");
  Pump();
  StreamPtr s = AppStream(0);
  EXPECT_TRUE(s->head_request);
  HoldingApp::Answer(s, "body the client must not get");
  Pump();
  EXPECT_EQ(client->resps[id].status, 200);
  EXPECT_EQ(client->resps[id].body, "");
  EXPECT_EQ(client->resps[id].close_code, 0u);
  EXPECT_EQ(host_->in_flight, 0u);
}

TEST_F(Http2LinkTest, PostBodyLargerThanTheStreamWindowFlowsOnlyAsTheAppTakesIt) {
  OpenH2();
  Upload up;
  up.data.resize(200 * 1024);
  for (size_t i = 0; i < up.data.size(); ++i) up.data[i] = static_cast<char>('a' + i % 26);
  int32_t id = client->Request("POST", "/upload", &up, {{"content-length", std::to_string(up.data.size())}});
  Pump();
  ASSERT_EQ(app_.streams.size(), 1u);
  StreamPtr s = AppStream(0);
  EXPECT_EQ(s->content_length, static_cast<int64_t>(up.data.size()));
  // The client stalls at the stream window: 65,535 bytes, however long it waits.
  EXPECT_EQ(s->body_received, 65535);
  EXPECT_FALSE(s->body_complete());
  Pump();
  EXPECT_EQ(s->body_received, 65535);
  std::string body;
  bool last = false;
  for (int i = 0; i < 100 && !last; ++i) {
    std::string part;
    last = s->TakeBody(&part);
    body += part;
    Pump();
    EXPECT_LE(s->buffered_body(), 65535u);
  }
  ASSERT_TRUE(last);
  EXPECT_EQ(body, up.data);
  HoldingApp::Answer(s, "got " + std::to_string(body.size()));
  Pump();
  EXPECT_EQ(client->resps[id].status, 200);
  EXPECT_EQ(client->resps[id].body, "got 204800");
  EXPECT_EQ(client->resps[id].close_code, 0u);
  EXPECT_EQ(host_->in_flight, 0u);
}

TEST_F(Http2LinkTest, SenderWaitsOverTheMarkAndIsWokenWhenTheClientOpensItsWindow) {
  // A client that opens its window only when told (ConsumeAll).
  UseClient(65535, /*auto_window=*/false);
  OpenH2();
  int32_t id = client->Request("GET", "/big");
  Pump();
  StreamPtr s = AppStream(0);
  CountingObserver obs;
  s->set_observer(&obs);
  std::string big(300 * 1024, 'z');
  s->response().Begin(200);
  // More than write_high_water waits in the stream's buffer: the sender is told to wait.
  EXPECT_EQ(s->SendBody(big, true), SendResult::kWait);
  Pump();
  // The client took one window's worth, and the rest waits on its window.
  EXPECT_EQ(client->resps[id].body.size(), 65535u);
  EXPECT_EQ(obs.writable, 0);
  Pump();
  EXPECT_EQ(obs.writable, 0);
  for (int i = 0; i < 100 && obs.writable == 0; ++i) {
    client->ConsumeAll();
    Pump();
  }
  EXPECT_EQ(obs.writable, 1);
  EXPECT_EQ(client->resps[id].body.size(), big.size());
  EXPECT_EQ(s->SendBody("end", false), SendResult::kOk);
  for (int i = 0; i < 10 && !client->resps[id].closed; ++i) {
    client->ConsumeAll();
    Pump();
  }
  EXPECT_TRUE(client->resps[id].closed);
  EXPECT_EQ(client->resps[id].close_code, 0u);
  EXPECT_EQ(client->resps[id].body, big + "end");
  EXPECT_EQ(host_->in_flight, 0u);
  s->set_observer(nullptr);
}

// ------------------------------------------------------------------ errors and limits

TEST_F(Http2LinkTest, BodyLongerThanContentLengthResetsTheStreamAndTheConnectionServesOn) {
  OpenH2();
  int32_t bad = client->Request("GET", "/bad");
  int32_t good = client->Request("GET", "/good");
  Pump();
  ASSERT_EQ(app_.streams.size(), 2u);
  StreamPtr s = AppStream(0);
  s->response().Begin(200);
  const char* reason = nullptr;
  ASSERT_TRUE(s->response().Add("content-length", "2", &reason));
  EXPECT_EQ(s->SendBody("abc", false), SendResult::kError);
  EXPECT_TRUE(s->connection_gone());
  Pump();
  EXPECT_TRUE(client->resps[bad].reset);
  EXPECT_EQ(client->resps[bad].reset_code, static_cast<uint32_t>(NGHTTP2_INTERNAL_ERROR));
  EXPECT_NE(client->resps[bad].body, "abc");
  // The other stream, and new ones, are still served.
  HoldingApp::Answer(app_.streams[1], "fine");
  int32_t after = client->Request("GET", "/after");
  Pump();
  EXPECT_EQ(client->resps[good].body, "fine");
  ASSERT_EQ(app_.streams.size(), 3u);
  HoldingApp::Answer(app_.streams[2], "still");
  Pump();
  EXPECT_EQ(client->resps[after].body, "still");
  EXPECT_TRUE(Goaways().empty());
  EXPECT_EQ(host_->in_flight, 0u);
  EXPECT_EQ(host_->requests_finished, 3u);
}

TEST_F(Http2LinkTest, BodyShorterThanContentLengthResetsTheStream) {
  OpenH2();
  int32_t id = client->Request("GET", "/short");
  Pump();
  StreamPtr s = AppStream(0);
  s->response().Begin(200);
  const char* reason = nullptr;
  ASSERT_TRUE(s->response().Add("content-length", "10", &reason));
  EXPECT_EQ(s->SendBody("abc", true), SendResult::kOk);
  EXPECT_EQ(s->SendBody("", false), SendResult::kError);
  Pump();
  EXPECT_TRUE(client->resps[id].reset);
  EXPECT_EQ(client->resps[id].reset_code, static_cast<uint32_t>(NGHTTP2_INTERNAL_ERROR));
  EXPECT_EQ(host_->in_flight, 0u);
  EXPECT_EQ(host_->requests_finished, 1u);
}

TEST_F(Http2LinkTest, EmptyBodyUnderANonZeroContentLengthIsResetNotSentAsComplete) {
  OpenH2();
  int32_t id = client->Request("GET", "/empty");
  Pump();
  StreamPtr s = AppStream(0);
  s->response().Begin(200);
  const char* reason = nullptr;
  ASSERT_TRUE(s->response().Add("content-length", "10", &reason));
  EXPECT_EQ(s->SendBody("", false), SendResult::kError);
  Pump();
  // The server resets it: the client never sees a response that claims to be whole.
  EXPECT_EQ(CountFrames(NGHTTP2_HEADERS, id, NGHTTP2_FLAG_END_STREAM), 0);
  EXPECT_EQ(CountFrames(NGHTTP2_DATA, id, NGHTTP2_FLAG_END_STREAM), 0);
  EXPECT_TRUE(client->resps[id].reset);
  EXPECT_EQ(client->resps[id].reset_code, static_cast<uint32_t>(NGHTTP2_INTERNAL_ERROR));
  EXPECT_EQ(host_->in_flight, 0u);
  EXPECT_EQ(host_->requests_finished, 1u);
}

TEST_F(Http2LinkTest, AppFailingBeforeItsResponseGets500AndAfterItTheStreamIsReset) {
  OpenH2();
  int32_t before = client->Request("GET", "/before");
  int32_t after = client->Request("GET", "/after");
  Pump();
  ASSERT_EQ(app_.streams.size(), 2u);
  app_.streams[0]->Fail();
  app_.streams[1]->response().Begin(200);
  EXPECT_EQ(app_.streams[1]->SendBody("partial", true), SendResult::kOk);
  app_.streams[1]->Fail();
  Pump();
  EXPECT_EQ(client->resps[before].status, 500);
  EXPECT_EQ(client->resps[before].body, "Internal Server Error");
  EXPECT_EQ(client->resps[before].close_code, 0u);
  EXPECT_TRUE(client->resps[after].reset);
  EXPECT_EQ(client->resps[after].reset_code, static_cast<uint32_t>(NGHTTP2_INTERNAL_ERROR));
  EXPECT_EQ(CountFrames(NGHTTP2_DATA, after, NGHTTP2_FLAG_END_STREAM), 0);
  EXPECT_EQ(host_->in_flight, 0u);
  EXPECT_EQ(host_->requests_finished, 2u);
  EXPECT_TRUE(Goaways().empty());
}

TEST_F(Http2LinkTest, ClientResetWakesASenderWaitingForItsWindow) {
  UseClient(65535, /*auto_window=*/false);
  OpenH2();
  int32_t id = client->Request("GET", "/big");
  Pump();
  StreamPtr s = AppStream(0);
  CountingObserver obs;
  s->set_observer(&obs);
  s->response().Begin(200);
  EXPECT_EQ(s->SendBody(std::string(300 * 1024, 'w'), true), SendResult::kWait);
  Pump();
  EXPECT_EQ(obs.writable, 0);
  nghttp2_submit_rst_stream(client->s_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  Pump();
  // The sender is woken, and learns the stream is gone.
  EXPECT_GE(obs.writable, 1);
  EXPECT_EQ(s->SendBody("more", true), SendResult::kClosed);
  EXPECT_EQ(host_->in_flight, 0u);
  EXPECT_EQ(host_->requests_finished, 1u);
  s->set_observer(nullptr);
}

TEST_F(Http2LinkTest, StreamOverTheConcurrencyLimitGets503WithoutReachingTheApp) {
  config_.limit_concurrency = 1;
  OpenH2();
  int32_t first = client->Request("GET", "/first");
  Pump();
  int32_t second = client->Request("GET", "/second");
  Pump();
  ASSERT_EQ(app_.targets, std::vector<std::string>({"/first"}));
  EXPECT_EQ(client->resps[second].status, 503);
  EXPECT_EQ(client->resps[second].body, "Service Unavailable");
  EXPECT_EQ(client->resps[second].close_code, 0u);
  EXPECT_EQ(host_->in_flight, 1u);
  HoldingApp::Answer(app_.streams[0], "first");
  Pump();
  EXPECT_EQ(client->resps[first].body, "first");
  // Under the limit again: served.
  int32_t third = client->Request("GET", "/third");
  Pump();
  ASSERT_EQ(app_.streams.size(), 2u);
  HoldingApp::Answer(app_.streams[1], "third");
  Pump();
  EXPECT_EQ(client->resps[third].body, "third");
  EXPECT_EQ(host_->in_flight, 0u);
  EXPECT_EQ(host_->requests_finished, 2u);
}

TEST_F(Http2LinkTest, AConnectionWhoseOnlyStreamsGot503StillClosesAtTheKeepAliveTimeout) {
  config_.limit_concurrency = 1;
  config_.timeout_keep_alive = 5;
  OpenH2();
  host_->in_flight = 1;  // another connection's request holds the only slot
  int32_t id = client->Request("GET", "/refused");
  Pump();
  EXPECT_EQ(client->resps[id].status, 503);
  EXPECT_TRUE(app_.streams.empty());
  Tick(4);
  EXPECT_FALSE(eof);
  Tick(2);
  // Idle past the keep-alive timeout: GOAWAY, then the close.
  EXPECT_EQ(Goaways().size(), 1u);
  EXPECT_TRUE(eof);
  host_->in_flight = 0;
}

// ------------------------------------------------------------------ drain, disconnects, deadlines

TEST_F(Http2LinkTest, DrainSendsGoawayLetsTheOpenStreamFinishThenCloses) {
  OpenH2();
  int32_t id = client->Request("GET", "/slow");
  Pump();
  ASSERT_EQ(app_.streams.size(), 1u);
  connection_->BeginDrain();
  Pump();
  // The notice: the client opens no more streams.
  uint32_t code = 99;
  EXPECT_EQ(Goaways(&code), std::vector<int32_t>({0x7fffffff}));
  EXPECT_EQ(code, 0u);
  Tick(0.6);
  // The real last stream id, a moment later; the open stream is still served.
  EXPECT_EQ(Goaways(&code), std::vector<int32_t>({0x7fffffff, id}));
  EXPECT_EQ(code, 0u);
  EXPECT_FALSE(eof);
  EXPECT_FALSE(AppStream(0)->connection_gone());
  HoldingApp::Answer(AppStream(0), "last one");
  Pump();
  EXPECT_EQ(client->resps[id].body, "last one");
  EXPECT_EQ(client->resps[id].close_code, 0u);
  EXPECT_TRUE(eof);  // then the connection closes
  EXPECT_EQ(host_->in_flight, 0u);
}

TEST_F(Http2LinkTest, DrainOfAnIdleConnectionClosesIt) {
  OpenH2();
  int32_t id = client->Request("GET", "/x");
  Pump();
  HoldingApp::Answer(AppStream(0), "x");
  Pump();
  EXPECT_EQ(client->resps[id].body, "x");
  connection_->BeginDrain();
  Pump();
  EXPECT_FALSE(eof);
  Tick(0.6);
  EXPECT_EQ(Goaways(), std::vector<int32_t>({0x7fffffff, id}));
  EXPECT_TRUE(eof);
}

TEST_F(Http2LinkTest, ConnectionThatTurnsHttp2AfterTheDrainBeganIsToldToGoAway) {
  Open();
  connection_->BeginDrain();  // the worker drains before the client's first bytes
  ASSERT_NE(connection_, nullptr);
  int32_t id = client->Request("GET", "/late");
  Pump();
  // The stream that came is served, and the client learns that no more should come.
  ASSERT_EQ(app_.streams.size(), 1u);
  EXPECT_FALSE(Goaways().empty());
  Tick(0.6);
  HoldingApp::Answer(app_.streams[0], "late");
  Pump();
  EXPECT_EQ(client->resps[id].body, "late");
  EXPECT_EQ(Goaways(), std::vector<int32_t>({0x7fffffff, id}));
  EXPECT_TRUE(eof);
}

TEST_F(Http2LinkTest, ClientClosingMidStreamDisconnectsTheAppsStream) {
  OpenH2();
  Upload up;
  up.data = std::string(1000, 'u');
  up.ready = 100;
  client->Request("POST", "/upload", &up, {{"content-length", "1000"}});
  client->Request("GET", "/other");
  Pump();
  ASSERT_EQ(app_.streams.size(), 2u);
  CountingObserver obs;
  app_.streams[0]->set_observer(&obs);
  EXPECT_FALSE(app_.streams[0]->disconnected());
  close(client_);
  client_ = -1;
  client_closed_ = true;
  Run();
  EXPECT_EQ(connection_, nullptr);
  for (const StreamPtr& s : app_.streams) {
    EXPECT_TRUE(s->disconnected());
    EXPECT_TRUE(s->connection_gone());
    EXPECT_EQ(s->SendBody("late", false), SendResult::kClosed);
  }
  EXPECT_GE(obs.body_ready, 1);
  EXPECT_EQ(host_->in_flight, 0u);
  EXPECT_EQ(host_->requests_finished, 2u);
  app_.streams[0]->set_observer(nullptr);
}

TEST_F(Http2LinkTest, ClientResettingAStreamDisconnectsItAndTheConnectionServesOn) {
  OpenH2();
  int32_t id = client->Request("GET", "/cancelled");
  Pump();
  ASSERT_EQ(app_.streams.size(), 1u);
  nghttp2_submit_rst_stream(client->s_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  Pump();
  EXPECT_TRUE(AppStream(0)->disconnected());
  EXPECT_EQ(AppStream(0)->SendBody("late", false), SendResult::kClosed);
  EXPECT_EQ(host_->in_flight, 0u);
  EXPECT_EQ(host_->requests_finished, 1u);
  int32_t next = client->Request("GET", "/next");
  Pump();
  ASSERT_EQ(app_.streams.size(), 2u);
  HoldingApp::Answer(app_.streams[1], "next");
  Pump();
  EXPECT_EQ(client->resps[next].body, "next");
  EXPECT_EQ(host_->requests_finished, 2u);
}

TEST_F(Http2LinkTest, StreamResetInTheReadThatOpenedItNeverReachesTheApp) {
  OpenH2();
  int32_t id = client->Request("GET", "/gone");
  // HEADERS and an RST_STREAM (built by hand: the client library would cancel the unsent request) in
  // one write, so one read.
  std::string rst = {0, 0, 4, NGHTTP2_RST_STREAM, 0, 0, 0, 0, static_cast<char>(id), 0, 0, 0, NGHTTP2_CANCEL};
  Send(client->Output() + rst);
  Pump();
  EXPECT_TRUE(app_.streams.empty());
  EXPECT_EQ(host_->in_flight, 0u);
  EXPECT_EQ(host_->requests_finished, 1u);
  int32_t next = client->Request("GET", "/next");
  Pump();
  ASSERT_EQ(app_.streams.size(), 1u);
  HoldingApp::Answer(app_.streams[0], "next");
  Pump();
  EXPECT_EQ(client->resps[next].body, "next");
}

TEST_F(Http2LinkTest, KeepAliveTimeoutClosesAConnectionWithNoOpenStream) {
  config_.timeout_keep_alive = 5;
  OpenH2();
  int32_t id = client->Request("GET", "/once");
  Pump();
  // A stream is open: the keep-alive timeout does not apply, however long the app takes.
  Tick(60);
  EXPECT_FALSE(eof);
  HoldingApp::Answer(AppStream(0), "done");
  Pump();
  EXPECT_EQ(client->resps[id].body, "done");
  Tick(4);
  EXPECT_FALSE(eof);
  EXPECT_TRUE(Goaways().empty());
  Tick(2);
  uint32_t code = 99;
  EXPECT_EQ(Goaways(&code), std::vector<int32_t>({id}));
  EXPECT_EQ(code, 0u);
  EXPECT_TRUE(eof);
}

TEST_F(Http2LinkTest, PingsDoNotKeepAnIdleConnectionAlive) {
  config_.timeout_keep_alive = 5;
  OpenH2();
  int32_t id = client->Request("GET", "/once");
  Pump();
  HoldingApp::Answer(AppStream(0), "done");
  Pump();
  EXPECT_EQ(client->resps[id].body, "done");
  for (int i = 0; i < 3 && !eof; ++i) {
    nghttp2_submit_ping(client->s_, NGHTTP2_FLAG_NONE, nullptr);
    Tick(2);
  }
  EXPECT_TRUE(eof) << "PINGs every 2 s kept a connection with no stream open past its 5 s keep-alive";
  EXPECT_EQ(Goaways(), std::vector<int32_t>({id}));
}

TEST_F(Http2LinkTest, HeaderBlockThatNeverEndsClosesAtTheRequestHeaderTimeout) {
  config_.timeout_request_header = 10;
  OpenH2();
  // HEADERS without END_HEADERS (its CONTINUATION never comes): no stream is open, the head deadline runs.
  std::string headers = {0, 0, 1, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 0, 0, 0, 1, static_cast<char>(0x82)};
  Send(headers);
  Tick(9);
  EXPECT_FALSE(eof);
  Tick(2);
  EXPECT_TRUE(eof);
  EXPECT_TRUE(app_.streams.empty());
  EXPECT_EQ(host_->in_flight, 0u);
}

TEST_F(Http2LinkTest, PrefaceAloneClosesAtTheRequestHeaderTimeout) {
  config_.timeout_request_header = 10;
  OpenH2();
  Tick(9);
  EXPECT_FALSE(eof);
  Tick(2);
  EXPECT_EQ(Goaways(), std::vector<int32_t>({0}));
  EXPECT_TRUE(eof);
}

TEST_F(Http2LinkTest, SendTimeoutClosesAConnectionWhoseClientNeverReads) {
  config_.timeout_send = 10;
  // A client with huge windows: what holds the response back is the socket it does not read.
  UseClient(1 << 30);
  OpenH2();
  client->Request("GET", "/big");
  Pump();
  StreamPtr s = AppStream(0);
  s->response().Begin(200);
  // Far more than a socket buffer holds.
  EXPECT_EQ(s->SendBody(std::string(16 << 20, 'y'), false), SendResult::kOk);
  Pump(/*read=*/false);
  Tick(5, /*read=*/false);
  ASSERT_NE(connection_, nullptr);
  Tick(6, /*read=*/false);
  EXPECT_EQ(connection_, nullptr);
  EXPECT_EQ(host_->in_flight, 0u);
  EXPECT_EQ(host_->requests_finished, 1u);
}

TEST_F(Http2LinkTest, SendTimeoutClosesAConnectionWhoseClientNeverOpensItsWindow) {
  config_.timeout_send = 10;
  UseClient(65535, /*auto_window=*/false);
  OpenH2();
  client->Request("GET", "/big");
  Pump();
  StreamPtr s = AppStream(0);
  s->response().Begin(200);
  EXPECT_EQ(s->SendBody(std::string(200 * 1024, 'y'), false), SendResult::kOk);
  Pump();
  Tick(5);
  ASSERT_NE(connection_, nullptr);
  Tick(6);
  EXPECT_EQ(connection_, nullptr);
  EXPECT_TRUE(eof);
  EXPECT_EQ(host_->in_flight, 0u);
}

TEST_F(Http2LinkTest, StalledRequestBodyIsResetAtTheBodyTimeout) {
  config_.timeout_request_body = 10;
  OpenH2();
  Upload up;
  up.data = std::string(1000, 'u');
  up.ready = 100;
  int32_t id = client->Request("POST", "/upload", &up, {{"content-length", "1000"}});
  Pump();
  StreamPtr s = AppStream(0);
  std::string part;
  EXPECT_FALSE(s->TakeBody(&part));  // the app waits for the body
  EXPECT_EQ(part, std::string(100, 'u'));
  Tick(9);
  EXPECT_FALSE(client->resps[id].reset);
  Tick(2);
  EXPECT_TRUE(client->resps[id].reset);
  EXPECT_EQ(client->resps[id].reset_code, static_cast<uint32_t>(NGHTTP2_CANCEL));
  EXPECT_TRUE(s->disconnected());
  EXPECT_EQ(host_->in_flight, 0u);
  EXPECT_EQ(host_->requests_finished, 1u);
  // The connection lives on.
  int32_t next = client->Request("GET", "/next");
  Pump();
  ASSERT_EQ(app_.streams.size(), 2u);
  HoldingApp::Answer(app_.streams[1], "next");
  Pump();
  EXPECT_EQ(client->resps[next].body, "next");
  EXPECT_FALSE(eof);
}

TEST_F(Http2LinkTest, StalledBodyIsResetOnceWhileTheSocketIsFull) {
  // The RST_STREAM waits behind response bytes the client does not read: the next ticks must not queue
  // another one (the stream stays listed until its reset is written).
  config_.timeout_request_body = 10;
  config_.timeout_send = 1000;
  UseClient(1 << 30);
  OpenH2();
  Upload up;
  up.data = std::string(1000, 'u');
  up.ready = 100;
  int32_t id = client->Request("POST", "/echo", &up, {{"content-length", "1000"}});
  Pump();
  StreamPtr s = AppStream(0);
  std::string part;
  EXPECT_FALSE(s->TakeBody(&part));
  s->response().Begin(200);
  for (int i = 0; i < 64 && s->SendBody(std::string(64 * 1024, 'r'), true) == SendResult::kOk; ++i) Pump(false);
  Pump(/*read=*/false);
  Tick(11, /*read=*/false);
  EXPECT_TRUE(s->connection_gone());
  for (int i = 0; i < 8; ++i) Tick(1, /*read=*/false);
  ASSERT_NE(connection_, nullptr);
  Pump();
  EXPECT_TRUE(client->resps[id].reset);
  EXPECT_EQ(CountFrames(NGHTTP2_RST_STREAM, id), 1);
  EXPECT_EQ(host_->requests_finished, 1u);
  EXPECT_EQ(host_->in_flight, 0u);
}

TEST_F(Http2LinkTest, BodyTheAppDoesNotWaitForIsNotTimedOut) {
  config_.timeout_request_body = 10;
  OpenH2();
  Upload up;
  up.data = std::string(1000, 'u');
  up.ready = 100;
  int32_t id = client->Request("POST", "/upload", &up, {{"content-length", "1000"}});
  Pump();
  Tick(30);
  EXPECT_FALSE(client->resps[id].reset);
  EXPECT_FALSE(AppStream(0)->disconnected());
}

TEST_F(Http2LinkTest, RequestTimeoutAnswers504OnTheStreamAndTheConnectionServesOn) {
  config_.timeout_request = 5;
  OpenH2();
  int32_t slow = client->Request("GET", "/slow?token=secret");
  Pump();
  Tick(3);
  int32_t later = client->Request("GET", "/later");
  Pump();
  ASSERT_EQ(app_.streams.size(), 2u);
  CountingObserver obs;
  app_.streams[0]->set_observer(&obs);
  Tick(2.5);
  // The first stream's deadline passed, not the second's (each counts from its own head).
  EXPECT_EQ(client->resps[slow].status, 504);
  EXPECT_EQ(client->resps[slow].body, "Gateway Timeout");
  EXPECT_EQ(client->resps[slow].close_code, 0u);
  EXPECT_EQ(obs.timed_out, 1);
  EXPECT_TRUE(app_.streams[0]->timed_out());
  EXPECT_EQ(app_.streams[0]->SendBody("too late", false), SendResult::kClosed);
  EXPECT_EQ(host_->timeouts, 1);
  EXPECT_FALSE(client->resps[later].closed);
  HoldingApp::Answer(app_.streams[1], "in time");
  Pump();
  EXPECT_EQ(client->resps[later].body, "in time");
  Tick(3);  // past the second stream's deadline, not past the keep-alive timeout
  EXPECT_EQ(host_->timeouts, 1);  // a complete response does not time out
  EXPECT_EQ(host_->in_flight, 0u);
  EXPECT_EQ(host_->requests_finished, 2u);
  EXPECT_TRUE(Goaways().empty());
  app_.streams[0]->set_observer(nullptr);
}

TEST_F(Http2LinkTest, RequestTimeoutAfterTheResponseStartedResetsTheStream) {
  config_.timeout_request = 5;
  OpenH2();
  int32_t id = client->Request("GET", "/stuck");
  Pump();
  StreamPtr s = AppStream(0);
  s->response().Begin(200);
  EXPECT_EQ(s->SendBody("partial", true), SendResult::kOk);
  Pump();
  Tick(6);
  EXPECT_TRUE(client->resps[id].reset);
  EXPECT_EQ(client->resps[id].reset_code, static_cast<uint32_t>(NGHTTP2_INTERNAL_ERROR));
  EXPECT_EQ(CountFrames(NGHTTP2_DATA, id, NGHTTP2_FLAG_END_STREAM), 0);
  EXPECT_TRUE(s->timed_out());
  EXPECT_EQ(host_->timeouts, 1);
  EXPECT_EQ(host_->in_flight, 0u);
  EXPECT_EQ(host_->requests_finished, 1u);
  EXPECT_FALSE(eof);
}

TEST_F(Http2LinkTest, RequestTimeoutOfAnUploadEndsItsStream) {
  // A 504 before the body is in: the upload is then asked to stop (RST_STREAM NO_ERROR), so the stream
  // does not stay open and the connection reaches its keep-alive deadline.
  config_.timeout_request = 5;
  config_.timeout_keep_alive = 5;
  OpenH2();
  Upload up;
  up.data = std::string(200 * 1024, 'u');
  int32_t id = client->Request("POST", "/upload", &up, {{"content-length", std::to_string(up.data.size())}});
  Pump();
  Tick(6);
  EXPECT_EQ(client->resps[id].status, 504);
  Tick(0.25);
  EXPECT_TRUE(client->resps[id].closed);
  EXPECT_EQ(host_->in_flight, 0u);
  Tick(6);
  EXPECT_TRUE(eof);
}

// ------------------------------------------------------------------ early answers, ends held by the window

TEST_F(Http2LinkTest, AnswerBeforeTheBodyDoesNotLeaveTheStreamOpenForever) {
  // A common app answers (404, 401, 413) without reading the body. The client's upload then stalls on
  // the window the app never opens; the stream must not keep the connection open forever.
  config_.timeout_keep_alive = 5;
  app_.answer_at_once = true;
  OpenH2();
  Upload up;
  up.data = std::string(200 * 1024, 'p');
  int32_t id = client->Request("POST", "/nope", &up, {{"content-length", std::to_string(up.data.size())}});
  Pump();
  EXPECT_EQ(client->resps[id].status, 200);
  EXPECT_EQ(client->resps[id].body, "ok");
  EXPECT_EQ(host_->in_flight, 0u);
  EXPECT_EQ(host_->requests_finished, 1u);
  Tick(6);
  Tick(6);
  EXPECT_TRUE(eof) << "the connection outlived its keep-alive timeout (the stream stayed open)";
}

TEST_F(Http2LinkTest, EarlyAnswerDropsTheRestOfTheUploadSoItEndsNormally) {
  app_.answer_at_once = true;
  OpenH2();
  Upload up;
  up.data = std::string(200 * 1024, 'p');  // three stream windows: the app reads none of it
  int32_t id = client->Request("POST", "/nope", &up, {{"content-length", std::to_string(up.data.size())}});
  Pump();
  // The rest of the body is read and dropped (its window given back), so the upload ends as usual: no
  // RST_STREAM, which some clients (curl 7.88) never get over while still uploading.
  EXPECT_EQ(client->resps[id].body, "ok");
  EXPECT_EQ(up.sent, up.data.size());
  EXPECT_TRUE(client->resps[id].closed);
  EXPECT_FALSE(client->resps[id].reset);
  // The connection serves on.
  app_.answer_at_once = false;
  int32_t next = client->Request("GET", "/next");
  Pump();
  ASSERT_EQ(app_.streams.size(), 2u);
  HoldingApp::Answer(app_.streams[1], "next");
  Pump();
  EXPECT_EQ(client->resps[next].body, "next");
  EXPECT_EQ(host_->requests_finished, 2u);
}

TEST_F(Http2LinkTest, EarlyAnswerEndsAStalledUploadWithResetNoErrorAtTheBodyTimeout) {
  config_.timeout_request_body = 20;
  app_.answer_at_once = true;
  OpenH2();
  Upload up;
  up.data = std::string(300 * 1024, 'p');
  up.ready = 100 * 1024;  // the client stops sending there
  int32_t id = client->Request("POST", "/nope", &up, {{"content-length", std::to_string(up.data.size())}});
  Pump();
  EXPECT_EQ(client->resps[id].body, "ok");
  EXPECT_FALSE(client->resps[id].closed);
  Tick(10);
  EXPECT_FALSE(client->resps[id].reset);  // still within the body timeout
  Tick(11);
  // RFC 9113 §8.1: a complete response, then RST_STREAM NO_ERROR asks the client to stop sending.
  EXPECT_TRUE(client->resps[id].reset);
  EXPECT_EQ(client->resps[id].reset_code, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_TRUE(client->resps[id].closed);
  EXPECT_EQ(host_->requests_finished, 1u);
}

TEST_F(Http2LinkTest, ResponseEndHeldByAWindowTheClientNeverOpensIsBoundedBySendTimeout) {
  // With a zero window the END_STREAM of an empty final DATA frame cannot be sent: nothing is buffered,
  // yet the stream stays open. It must count as output waiting for the client.
  config_.timeout_send = 10;
  config_.timeout_keep_alive = 5;
  UseClient(0, /*auto_window=*/false);
  OpenH2();
  int32_t id = client->Request("GET", "/streamed-empty");
  Pump();
  StreamPtr s = AppStream(0);
  s->response().Begin(200);
  EXPECT_EQ(s->SendBody("", true), SendResult::kOk);
  EXPECT_EQ(s->SendBody("", false), SendResult::kOk);
  Pump();
  EXPECT_EQ(client->resps[id].status, 200);
  EXPECT_FALSE(client->resps[id].closed);
  Tick(5);
  EXPECT_FALSE(eof);
  Tick(6);
  Tick(6);
  EXPECT_TRUE(eof) << "a stream whose end waits on a closed window kept the connection open";
  EXPECT_EQ(host_->in_flight, 0u);
}

// ------------------------------------------------------------------ protocol detection

TEST_F(Http2LinkTest, ConnectionWithoutThePrefaceStaysHttp11) {
  Open();
  Send("GET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(app_.streams.size(), 1u);
  EXPECT_EQ(app_.streams[0]->http_major, 1);
  HoldingApp::Answer(app_.streams[0], "plain");
  std::string got = Receive();
  EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("\r\n\r\nplain"), std::string::npos);
}

TEST_F(Http2LinkTest, ShortHttp11RequestIsNotHeldBackAsAPossiblePreface) {
  Open();
  // "PR" could start the preface, but "PRX" cannot: answered as HTTP/1.1 (501, an unknown method).
  Send("PR");
  EXPECT_EQ(Receive(), "");
  Send("X / HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string got = Receive();
  EXPECT_EQ(got.rfind("HTTP/1.1 501 ", 0), 0u) << got;
}

TEST_F(Http2LinkTest, PrefaceArrivingOneByteAtATimeIsRecognised) {
  Open();
  std::string out = client->Output();
  ASSERT_EQ(out.substr(0, kPreface.size()), kPreface);
  for (char ch : out) Send(std::string(1, ch));
  int32_t id = client->Request("GET", "/trickle");
  Pump();
  ASSERT_EQ(app_.streams.size(), 1u);
  EXPECT_EQ(app_.streams[0]->http_major, 2);
  HoldingApp::Answer(app_.streams[0], "trickled");
  Pump();
  EXPECT_EQ(client->resps[id].body, "trickled");
}

TEST_F(Http2LinkTest, WithHttp2OffThePrefaceIsA400) {
  config_.http2 = false;
  Open();
  Send(std::string(kPreface));
  bool closed = false;
  std::string got = Receive(&closed);
  EXPECT_EQ(got.rfind("HTTP/1.1 400 ", 0), 0u) << got;
  EXPECT_TRUE(app_.streams.empty());
}

TEST_F(Http2LinkTest, GarbageAfterThePrefaceIsAConnectionError) {
  Open();
  // A frame header announcing a 16 MiB frame where SETTINGS must come: GOAWAY, then the close.
  Send(std::string(kPreface) + std::string(64, '\xff'));
  bool closed = false;
  std::string got = Receive(&closed);
  EXPECT_TRUE(closed);
  EXPECT_GT(got.size(), 9u);  // the server's SETTINGS and its GOAWAY
  EXPECT_TRUE(app_.streams.empty());
}

}  // namespace
}  // namespace esg::engine
