// Tests for Http2Link (server/engine/http2_link.h): drain, disconnects, deadlines (keep-alive, request head,
// send, request body, --timeout-request), early answers and stream ends held by the window. The harness is
// http2_link_harness.h; exchanges and limits are in http2_link_test.cc.
#include "server/engine/http2_link.h"

#include "tests/unit/server/engine/http2_link_harness.h"

namespace esg::engine {
namespace {

using namespace h2test;  // NOLINT: the harness is this test's own

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

}  // namespace
}  // namespace esg::engine
