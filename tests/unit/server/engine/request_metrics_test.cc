// Tests for the engine's per-request recorder (server/engine/request_metrics.h) as connections use it: one
// Connection on a socketpair (fake_host.h) with counters handed by the host, each response counted once in
// its method and status class and its duration bucket, ESG's own answers included, and every byte read and
// written counted.
#include "server/engine/request_metrics.h"

#include <gtest/gtest.h>

#include <string>

#include "server/engine/connection.h"
#include "tests/unit/server/engine/fake_host.h"

namespace esg::engine {
namespace {

using fakes::ConnectionHarness;

constexpr int kGet = 0, kHead = 1, kPost = 2;
constexpr int k1xx = 0, k2xx = 1, k4xx = 3;

class RequestMetricsTest : public ConnectionHarness {
 protected:
  void OpenCounting() {
    Open();
    host_->counters = &counters_;
    // The connection read the host's counters when it was created: make a new one that sees them.
    connection_->Close();
    Reap();
    close(client_);
    client_ = -1;
    ReOpen();
  }
  void ReOpen() {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
    client_ = fds[1];
    PeerInfo peer;
    peer.client_text = "unix:test";
    peer.fd = fds[0];
    connection_ = new Connection(host_.get(), fds[0], nullptr, std::move(peer), MakePlainTransport(fds[0]));
    connection_->Start();
    Reap();
  }
  RequestCounters counters_;
};

TEST_F(RequestMetricsTest, EachResponseCountsOnceWithItsBytes) {
  app_.answer_at_once = true;
  OpenCounting();
  const std::string get = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string head = "HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n";
  Send(get + head);  // pipelined
  std::string got = Receive();
  EXPECT_EQ(fakes::Count(got, "HTTP/1.1 200"), 2) << got;
  EXPECT_EQ(counters_.requests[kGet][k2xx], 1u);
  EXPECT_EQ(counters_.requests[kHead][k2xx], 1u);
  EXPECT_EQ(counters_.total_requests(), 2u);
  uint64_t in_buckets = 0;
  for (uint64_t b : counters_.duration_buckets) in_buckets += b;
  EXPECT_EQ(in_buckets, 2u);
  EXPECT_EQ(counters_.received_bytes, get.size() + head.size());
  EXPECT_EQ(counters_.sent_bytes, got.size());
}

TEST_F(RequestMetricsTest, AppStatusAndBodyOfAPost) {
  OpenCounting();
  const std::string body(1000, 'b');
  const std::string post = "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + body;
  Send(post);
  ASSERT_EQ(app_.streams.size(), 1u);
  EXPECT_EQ(counters_.total_requests(), 0u);  // in flight: not counted before its response ends
  app_.streams[0]->response().Begin(404);
  app_.streams[0]->SendBody("nope", false);
  std::string got = Receive();
  EXPECT_NE(got.find("HTTP/1.1 404"), std::string::npos) << got;
  EXPECT_EQ(counters_.requests[kPost][k4xx], 1u);
  EXPECT_EQ(counters_.total_requests(), 1u);
  EXPECT_EQ(counters_.received_bytes, post.size());
  EXPECT_EQ(counters_.sent_bytes, got.size());
}

TEST_F(RequestMetricsTest, AnswersEsgSendsItselfAreCounted) {
  OpenCounting();
  const std::string bad = "GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n";
  Send(bad);
  bool eof = false;
  std::string got = Receive(&eof);
  EXPECT_NE(got.find("HTTP/1.1 400"), std::string::npos) << got;
  // The head never parsed: no method to class, no start to time.
  EXPECT_EQ(counters_.requests[kMethodOther][k4xx], 1u);
  EXPECT_EQ(counters_.total_requests(), 1u);
  EXPECT_EQ(counters_.duration_buckets[0], 1u);
  EXPECT_EQ(counters_.received_bytes, bad.size());
  EXPECT_EQ(counters_.sent_bytes, got.size());
}

TEST_F(RequestMetricsTest, OverTheConcurrencyLimitIs503WithItsMethod) {
  config_.limit_concurrency = 1;
  OpenCounting();
  host_->in_flight = 1;  // another connection holds the only slot
  Send("DELETE /x HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string got = Receive();
  EXPECT_NE(got.find("HTTP/1.1 503"), std::string::npos) << got;
  EXPECT_EQ(counters_.requests[5][4], 1u);  // DELETE, 5xx
  host_->in_flight = 0;
}

TEST_F(RequestMetricsTest, AWebSocketHandshakeIsA1xx) {
  app_.accept_at_once = true;
  OpenCounting();
  Send("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  std::string got = Receive();
  EXPECT_NE(got.find("HTTP/1.1 101"), std::string::npos) << got;
  EXPECT_EQ(counters_.requests[kGet][k1xx], 1u);
  EXPECT_EQ(counters_.total_requests(), 1u);
  EXPECT_EQ(host_->websockets, 1);
}

// A response is timed to its last byte written: one queued behind a client that does not read yet is counted
// when the queue drains — or when the connection closes with it.
TEST_F(RequestMetricsTest, AQueuedResponseCountsOnceItsBytesAreWritten) {
  app_.answer_at_once = true;
  app_.answer = std::string(4 << 20, 'x');  // far more than a socketpair holds
  OpenCounting();
  Send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(app_.streams.size(), 1u);
  EXPECT_TRUE(app_.streams[0]->response_complete());
  EXPECT_EQ(counters_.total_requests(), 0u);  // complete, but not written yet
  std::string got = Receive(nullptr, (4 << 20) + 4096);
  EXPECT_GT(got.size(), size_t{4 << 20});
  EXPECT_EQ(counters_.requests[kGet][k2xx], 1u);
  EXPECT_EQ(counters_.total_requests(), 1u);

  Send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(counters_.total_requests(), 1u);
  connection_->Close();  // the client gives up with most of it unread
  Reap();
  EXPECT_EQ(counters_.requests[kGet][k2xx], 2u);
  EXPECT_EQ(counters_.total_requests(), 2u);
}

TEST_F(RequestMetricsTest, NothingIsCountedWithoutCounters) {
  app_.answer_at_once = true;
  Open();  // the host hands out no counters: metrics are off
  Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(Receive().find("HTTP/1.1 200"), std::string::npos);
  EXPECT_EQ(counters_.total_requests(), 0u);
  EXPECT_EQ(counters_.received_bytes, 0u);
  EXPECT_EQ(counters_.sent_bytes, 0u);
}

TEST(RequestMetricsRecorderTest, NullCountersAreANoOp) {
  RequestMark mark;
  MarkRequest(nullptr, &mark, "GET");
  EXPECT_EQ(mark.start_us, 0u);
  RecordResponse(nullptr, &mark, 200);
  CountReceived(nullptr, 10);
  CountSent(nullptr, 10);
}

TEST(RequestMetricsRecorderTest, MarkThenRecordTimesAndClears) {
  RequestCounters c;
  RequestMark mark;
  MarkRequest(&c, &mark, "PATCH");
  EXPECT_NE(mark.start_us, 0u);
  EXPECT_EQ(mark.method_class, 4);
  RecordResponse(&c, &mark, 204);
  EXPECT_EQ(c.requests[4][1], 1u);
  EXPECT_EQ(mark.start_us, 0u);
  EXPECT_EQ(mark.method_class, kMethodOther);
  CountSent(&c, -1);  // a failed writev moves nothing
  EXPECT_EQ(c.sent_bytes, 0u);
}

}  // namespace
}  // namespace esg::engine
