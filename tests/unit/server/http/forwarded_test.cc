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

TEST(ForwardedPolicy, ProtoOnlyAcceptsHttpHttpsWsWss) {
  EXPECT_EQ(ForwardedPolicy::Proto("https"), "https");
  EXPECT_EQ(ForwardedPolicy::Proto(" HTTPS "), "https");
  EXPECT_EQ(ForwardedPolicy::Proto("wss"), "wss");
  EXPECT_EQ(ForwardedPolicy::Proto("javascript"), "");
  EXPECT_EQ(ForwardedPolicy::Proto("http, https"), "https");
}

}  // namespace
}  // namespace esg::http
