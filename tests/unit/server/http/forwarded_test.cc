// Unit tests for ForwardedPolicy (server/http/forwarded.h): the allow list and the right-to-left walk.
#include "server/http/forwarded.h"

#include <gtest/gtest.h>

namespace esg::http {
namespace {

ForwardedPolicy Policy(std::string_view list) {
  ForwardedPolicy p;
  std::string error;
  EXPECT_TRUE(p.Parse(list, &error)) << error;
  return p;
}

TEST(ForwardedPolicy, AddressesNetworksStarAndUnix) {
  ForwardedPolicy p = Policy("127.0.0.1, 10.0.0.0/8, fd00::/8");
  EXPECT_TRUE(p.Trusts("127.0.0.1"));
  EXPECT_TRUE(p.Trusts("::ffff:127.0.0.1"));  // IPv4-mapped, as a dual-stack socket reports it
  EXPECT_TRUE(p.Trusts("10.9.8.7"));
  EXPECT_TRUE(p.Trusts("fd12::1"));
  EXPECT_FALSE(p.Trusts("11.0.0.1"));
  EXPECT_FALSE(p.Trusts("not-an-ip"));
  EXPECT_FALSE(p.TrustsUnix());
  EXPECT_TRUE(Policy("unix").TrustsUnix());
  EXPECT_FALSE(Policy("unix").Trusts("127.0.0.1"));
  EXPECT_TRUE(Policy("*").Trusts("203.0.113.9"));
  EXPECT_TRUE(Policy("*").TrustsUnix());
}

TEST(ForwardedPolicy, RejectsMalformedEntries) {
  ForwardedPolicy p;
  std::string error;
  EXPECT_FALSE(p.Parse("127.0.0.1, example.com", &error));
  EXPECT_NE(error.find("example.com"), std::string::npos);
  EXPECT_FALSE(p.Parse("10.0.0.0/33", &error));
  EXPECT_FALSE(p.Parse("10.0.0.0/x", &error));
}

TEST(ForwardedPolicy, ClientIsFirstUntrustedFromTheRight) {
  ForwardedPolicy p = Policy("127.0.0.1, 10.0.0.0/8");
  EXPECT_EQ(p.ClientFrom("203.0.113.1, 198.51.100.2, 10.0.0.3")->host, "198.51.100.2");
  EXPECT_EQ(p.ClientFrom("10.0.0.1, 10.0.0.2")->host, "10.0.0.1");  // all trusted: the leftmost
  auto with_port = p.ClientFrom("203.0.113.1:4711");
  EXPECT_EQ(with_port->host, "203.0.113.1");
  EXPECT_EQ(with_port->port, 4711);
  auto v6 = p.ClientFrom("[2001:db8::1]:8080");
  EXPECT_EQ(v6->host, "2001:db8::1");
  EXPECT_EQ(v6->port, 8080);
  EXPECT_EQ(p.ClientFrom("2001:db8::2")->host, "2001:db8::2");
  EXPECT_FALSE(p.ClientFrom(" , ").has_value());
}

TEST(ForwardedPolicy, SchemeOfHttpRequestsIsHttpOrHttps) {
  EXPECT_EQ(ForwardedPolicy::Scheme("https", false), "https");
  EXPECT_EQ(ForwardedPolicy::Scheme(" HTTPS ", false), "https");
  EXPECT_EQ(ForwardedPolicy::Scheme("http", false), "http");
  EXPECT_EQ(ForwardedPolicy::Scheme("http, https", false), "https");
  // ws/wss describe a WebSocket: an HTTP request ignores them (it used to become https).
  EXPECT_EQ(ForwardedPolicy::Scheme("wss", false), "");
  EXPECT_EQ(ForwardedPolicy::Scheme("ws", false), "");
  EXPECT_EQ(ForwardedPolicy::Scheme("javascript", false), "");
}

TEST(ForwardedPolicy, SchemeOfWebSocketsMapsHttpToWs) {
  EXPECT_EQ(ForwardedPolicy::Scheme("https", true), "wss");
  EXPECT_EQ(ForwardedPolicy::Scheme("http", true), "ws");
  EXPECT_EQ(ForwardedPolicy::Scheme("WSS", true), "wss");
  EXPECT_EQ(ForwardedPolicy::Scheme("ws", true), "ws");
  EXPECT_EQ(ForwardedPolicy::Scheme("ftp", true), "");
}

TEST(ForwardedPolicy, UnusableEntriesNameNoClient) {
  ForwardedPolicy p = Policy("127.0.0.1, 10.0.0.0/8");
  EXPECT_FALSE(p.ClientFrom("\xff\xfe").has_value());
  EXPECT_FALSE(p.ClientFrom("unknown").has_value());
  EXPECT_FALSE(p.ClientFrom("example.com").has_value());
  EXPECT_FALSE(p.ClientFrom(std::string("127.0.0.1\0junk", 14)).has_value());
  EXPECT_FALSE(p.ClientFrom("[1.2.3.4]").has_value());
  EXPECT_FALSE(p.ClientFrom("[::1").has_value());
  // The first untrusted hop from the right decides, even when it is garbage: the entry left of it was
  // written by the client.
  EXPECT_FALSE(p.ClientFrom("203.0.113.1, bogus, 10.0.0.3").has_value());
  EXPECT_EQ(p.ClientFrom("bogus, 203.0.113.1, 10.0.0.3")->host, "203.0.113.1");
  // A trusted address with NUL after it is not trusted: it is not an address at all.
  EXPECT_FALSE(p.Trusts(std::string("127.0.0.1\0", 10)));
}

TEST(ForwardedPolicy, InvalidPortsAreDropped) {
  ForwardedPolicy p = Policy("127.0.0.1");
  for (const char* hop : {"203.0.113.1:0", "203.0.113.1:65536", "203.0.113.1:99999999999", "203.0.113.1:12ab",
                          "203.0.113.1:+80", "203.0.113.1:-1", "203.0.113.1:", "[2001:db8::1]:70000"}) {
    auto c = p.ClientFrom(hop);
    ASSERT_TRUE(c.has_value()) << hop;
    EXPECT_EQ(c->port, 0) << hop;
  }
  EXPECT_EQ(p.ClientFrom("203.0.113.1:65535")->port, 65535);
  EXPECT_EQ(p.ClientFrom("203.0.113.1:1")->port, 1);
  EXPECT_FALSE(p.ClientFrom("[2001:db8::1]x80").has_value());
}

}  // namespace
}  // namespace esg::http
