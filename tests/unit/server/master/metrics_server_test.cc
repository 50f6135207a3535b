// The master's Prometheus endpoint (server/master/metrics_server.h): the strict scrape reader with
// well-formed and hostile heads, the responses, and a real scrape over a UNIX socket and over TCP.
#include "server/master/metrics_server.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

namespace esg {
namespace {

using V = ScrapeVerdict;

TEST(ScrapeRequestTest, GetMetricsAndWhatElseAScraperMaySend) {
  EXPECT_EQ(ParseScrapeRequest("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\n\r\n"), V::kMetrics);
  EXPECT_EQ(ParseScrapeRequest("GET /metrics?name[]=x HTTP/1.0\r\n\r\n"), V::kMetrics);
  EXPECT_EQ(ParseScrapeRequest("GET /metrics HTTP/1.1\r\nContent-Length:  0 \r\n\r\n"), V::kMetrics);
  EXPECT_EQ(ParseScrapeRequest("GET / HTTP/1.1\r\n\r\n"), V::kNotFound);
  EXPECT_EQ(ParseScrapeRequest("GET /metricsx HTTP/1.1\r\n\r\n"), V::kNotFound);
  EXPECT_EQ(ParseScrapeRequest("HEAD /metrics HTTP/1.1\r\n\r\n"), V::kMethodNotAllowed);
  EXPECT_EQ(ParseScrapeRequest("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), V::kMethodNotAllowed);
  EXPECT_EQ(ParseScrapeRequest("GET /metrics HTTP/1.1\r\nHost: x\r\n"), V::kIncomplete);
  EXPECT_EQ(ParseScrapeRequest(""), V::kIncomplete);
}

TEST(ScrapeRequestTest, HostileHeadsAreRefusedWithinTheBounds) {
  for (const char* head : {
           "GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",          // a body
           "GET /metrics HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n",       // pipelining
           "GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
           "GET /metrics HTTP/1.1\r\nContent-Length: 00\r\n\r\n",
           "GET /metrics HTTP/1.1\r\n folded\r\n\r\n",
           "GET /metrics HTTP/1.1\r\nX: a\rb\r\n\r\n",
           "GET /metrics HTTP/1.1\r\nX y: z\r\n\r\n",
           "GET  /metrics HTTP/1.1\r\n\r\n",
           "GET /metrics  HTTP/1.1\r\n\r\n",
           "GET /metrics HTTP/2.0\r\n\r\n",
           "GET metrics HTTP/1.1\r\n\r\n",
           "G(T /metrics HTTP/1.1\r\n\r\n",
           "\r\n\r\n",
       }) {
    EXPECT_EQ(ParseScrapeRequest(head), V::kBadRequest) << head;
  }
  EXPECT_EQ(ParseScrapeRequest(std::string("GET /metrics HTTP/1.1\r\nX: a\0b\r\n\r\n", 36)), V::kBadRequest);
  std::string many = "GET /metrics HTTP/1.1\r\n";
  for (size_t i = 0; i <= kMaxScrapeHeaderLines; ++i) many += "X: y\r\n";
  EXPECT_EQ(ParseScrapeRequest(many + "\r\n"), V::kTooLarge);
  const std::string endless = "GET /metrics HTTP/1.1\r\nX: " + std::string(kMaxScrapeHeadBytes, 'a');
  EXPECT_EQ(ParseScrapeRequest(endless), V::kTooLarge);
  EXPECT_EQ(ParseScrapeRequest(endless.substr(0, kMaxScrapeHeadBytes - 1)), V::kIncomplete);
}

TEST(ScrapeRequestTest, ResponsesCarryTheContentTypeAndLength) {
  std::string ok = ScrapeResponse(V::kMetrics, "esg_requests_total 1\n");
  EXPECT_EQ(ok,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: 21\r\n"
            "Connection: close\r\n\r\nesg_requests_total 1\n");
  EXPECT_EQ(ScrapeResponse(V::kMethodNotAllowed, "x").rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u);
  EXPECT_NE(ScrapeResponse(V::kMethodNotAllowed, "x").find("Allow: GET\r\n"), std::string::npos);
  EXPECT_EQ(ScrapeResponse(V::kTooLarge, "x").rfind("HTTP/1.1 431 ", 0), 0u);
  EXPECT_EQ(ScrapeResponse(V::kNotFound, "secret").find("secret"), std::string::npos);
}

template <typename Socket>
std::string Exchange(Socket& socket, const std::string& request) {
  boost::asio::write(socket, boost::asio::buffer(request));
  std::string out;
  boost::system::error_code ec;
  boost::asio::read(socket, boost::asio::dynamic_buffer(out), ec);  // until the server closes
  return out;
}

TEST(MetricsServerTest, ServesScrapesOverUnixAndTcp) {
  char dir[] = "/tmp/esg-metrics-XXXXXX";  // TEST_TMPDIR is too long for sun_path
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/metrics.sock";
  MetricsServer unix_server;
  std::string error;
  ASSERT_TRUE(unix_server.Open("unix:" + path, &error)) << error;
  EXPECT_EQ(unix_server.Describe(), "unix:" + path);
  int renders = 0;
  unix_server.Start([&renders] { return "esg_requests_total " + std::to_string(++renders) + "\n"; });

  boost::asio::io_context io;
  boost::asio::local::stream_protocol::socket a(io);
  a.connect(boost::asio::local::stream_protocol::endpoint(path));
  std::string reply = Exchange(a, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(reply.find("\r\n\r\nesg_requests_total 1\n"), std::string::npos) << reply;
  boost::asio::local::stream_protocol::socket b(io);
  b.connect(boost::asio::local::stream_protocol::endpoint(path));
  EXPECT_EQ(Exchange(b, "DELETE /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0), 0u);
  unix_server.Stop();
  EXPECT_NE(access(path.c_str(), F_OK), 0) << "the socket file is removed";

  MetricsServer tcp_server;
  ASSERT_TRUE(tcp_server.Open("127.0.0.1:0", &error)) << error;
  const std::string where = tcp_server.Describe();
  ASSERT_EQ(where.rfind("http://127.0.0.1:", 0), 0u) << where;
  const int port = std::atoi(where.c_str() + std::string("http://127.0.0.1:").size());
  tcp_server.Start([] { return std::string("x 1\n"); });
  boost::asio::ip::tcp::socket c(io);
  c.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  EXPECT_EQ(Exchange(c, "GET /metrics HTTP/1.0\r\n\r\n").rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  rmdir(dir);
}

TEST(MetricsServerTest, ABadBindIsASentenceNamingTheOption) {
  std::string error;
  for (const char* bind : {"9100", "localhost:9100", "127.0.0.1:99999", "127.0.0.1:", "unix:", ":9100"}) {
    MetricsServer server;
    EXPECT_FALSE(server.Open(bind, &error)) << bind;
    EXPECT_EQ(error.rfind(std::string("--metrics-bind ") + bind + ": ", 0), 0u) << error;
  }
}

}  // namespace
}  // namespace esg
