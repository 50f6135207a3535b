// Tests for Http2Link (server/engine/http2_link.h): exchanges, flow control, errors and limits, protocol
// detection. The harness (a real Connection against a real nghttp2 client) is http2_link_harness.h; drain,
// disconnects and deadlines are in http2_link_deadlines_test.cc.
#include "server/engine/http2_link.h"

#include "tests/unit/server/engine/http2_link_harness.h"

namespace esg::engine {
namespace {

using namespace h2test;  // NOLINT: the harness is this test's own

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
