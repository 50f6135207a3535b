// Unit tests for ForwardedPolicy (server/http/forwarded.h): the allow list, the right-to-left walk,
// X-Forwarded-Host/-Port and the RFC 7239 Forwarded parser (with hostile values).
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

RequestHead Head(std::initializer_list<std::pair<std::string, std::string>> headers) {
  RequestHead h;
  for (const auto& [name, value] : headers) h.headers.push_back({name, value});
  h.header_count = h.headers.size();
  return h;
}

TEST(ForwardedPolicy, HostValidation) {
  for (std::string_view ok : {"a.example", "a.example:8443", "[::1]", "[2001:db8::1]:443", "10.0.0.1:80", "x_y-z"}) {
    EXPECT_TRUE(ForwardedPolicy::IsValidHost(ok)) << ok;
  }
  for (std::string_view bad : std::initializer_list<std::string_view>{"", "a b", "a.example:", "a.example:0", "a.example:65536", "a:1:2", "[::1", "[1.2.3.4]",
                               "[::1]x", "u@h", "h/p", "h\r\nx", std::string_view("h\0x", 3), "h\x01", "h\x7f"}) {
    EXPECT_FALSE(ForwardedPolicy::IsValidHost(bad)) << bad;
  }
  EXPECT_FALSE(ForwardedPolicy::IsValidHost(std::string(254, 'a')));
  EXPECT_TRUE(ForwardedPolicy::IsValidHost(std::string(253, 'a')));
  EXPECT_EQ(ForwardedPolicy::Host("a.example, b.example"), "b.example");
  EXPECT_EQ(ForwardedPolicy::Host("a.example, b example"), "");
  EXPECT_EQ(ForwardedPolicy::Port("1, 8443"), 8443);
  EXPECT_EQ(ForwardedPolicy::Port("99999"), 0);
  EXPECT_EQ(ForwardedPolicy::Port("+80"), 0);
  EXPECT_EQ(ForwardedPolicy::SplitHost("[::1]:8080"), (std::pair<std::string_view, int>("::1", 8080)));
  EXPECT_EQ(ForwardedPolicy::SplitHost("a.example"), (std::pair<std::string_view, int>("a.example", 0)));
}

TEST(ForwardedPolicy, Rfc7239Elements) {
  ForwardedPolicy p = Policy("127.0.0.1, 10.0.0.0/8");
  auto e = p.FromForwarded("for=192.0.2.60;proto=https;by=203.0.113.43;host=shop.example", false);
  ASSERT_TRUE(e && e->client);
  EXPECT_EQ(e->client->host, "192.0.2.60");
  EXPECT_EQ(e->scheme, "https");
  EXPECT_EQ(e->host, "shop.example");
  e = p.FromForwarded(R"(For="[2001:db8:cafe::17]:4711", for=10.1.1.1;host="in\ner.example")", true);
  ASSERT_TRUE(e && e->client);  // 10.1.1.1 is trusted: the element before it counts
  EXPECT_EQ(e->client->host, "2001:db8:cafe::17");
  EXPECT_EQ(e->client->port, 4711);
  EXPECT_EQ(e->host, "");
  e = p.FromForwarded("for=198.51.100.1;host=a.example, for=unknown;proto=http;host=b.example, for=10.0.0.2", true);
  ASSERT_TRUE(e);  // "unknown" stops the walk and names no client; its element is still the proxy's
  EXPECT_FALSE(e->client);
  EXPECT_EQ(e->scheme, "ws");
  EXPECT_EQ(e->host, "b.example");
  e = p.FromForwarded("for=_hidden, for=\"_x:_y\"", false);
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->client);
  e = p.FromForwarded(" , ;, for=192.0.2.1 ; proto=http ,", false);  // empty elements and OWS
  ASSERT_TRUE(e && e->client);
  EXPECT_EQ(e->client->host, "192.0.2.1");
}

TEST(ForwardedPolicy, Rfc7239HostileValuesSayNothing) {
  ForwardedPolicy p = Policy("127.0.0.1");
  for (std::string_view bad : {"for", "for=", "=x", "for=1.2.3.4;for=5.6.7.8", "for=\"1.2.3.4", "for=\"a\\",
                               "for=1.2.3.4 host=a", "for=a\"b\"", "host=\"a\r\nb\"", "host=\"a\x01\"",
                               "for=1.2.3.4;host=a\x7f", "proto=\"x\x7f\""}) {
    EXPECT_FALSE(p.FromForwarded(bad, false)) << bad;
  }
  // A quoted host that is not one valid host, a proto that is not http(s), a for= that is a name.
  auto e = p.FromForwarded(R"(for=evil.example;proto="http,https";host="a.example, b.example")", false);
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->client);
  EXPECT_EQ(e->scheme, "");
  EXPECT_EQ(e->host, "");
  // The bound: 64 elements are walked, 65 are refused whole.
  std::string list;
  for (size_t i = 0; i < ForwardedPolicy::kMaxForwardedElements; ++i) list += i ? ", for=127.0.0.1" : "for=127.0.0.1;host=first";
  e = p.FromForwarded(list, false);
  ASSERT_TRUE(e && e->client);
  EXPECT_EQ(e->host, "first");
  EXPECT_FALSE(p.FromForwarded(list + ", for=127.0.0.1", false));
}

TEST(ForwardedPolicy, FromHeadersPrefersXForwarded) {
  ForwardedPolicy p = Policy("127.0.0.1");
  auto f = p.FromHeaders(Head({{"host", "internal:8000"}, {"forwarded", "for=192.0.2.1;host=a.example;proto=https"}}), false);
  ASSERT_TRUE(f.client);
  EXPECT_EQ(f.client->host, "192.0.2.1");
  EXPECT_EQ(f.host, "a.example");  // :443 is https's default
  EXPECT_EQ(f.scheme, "https");
  f = p.FromHeaders(Head({{"forwarded", "for=192.0.2.1;host=a.example"}, {"x-forwarded-proto", "https"}}), false);
  EXPECT_FALSE(f.client);  // any X-Forwarded-* header: Forwarded is ignored whole
  EXPECT_EQ(f.host, "");
  EXPECT_EQ(f.scheme, "https");
  f = p.FromHeaders(Head({{"host", "internal:8000"}, {"x-forwarded-port", "9000"}}), false);
  EXPECT_EQ(f.host, "internal:9000");
  f = p.FromHeaders(Head({{"x-forwarded-host", "[2001:db8::1]:80"}, {"x-forwarded-proto", "http"}}), false);
  EXPECT_EQ(f.host, "[2001:db8::1]");
  f = p.FromHeaders(Head({{"x-forwarded-host", "a.example"}, {"x-forwarded-port", "443"}}), false);
  EXPECT_EQ(f.host, "a.example:443");  // no forwarded scheme: the default port is not known, kept
  f = p.FromHeaders(Head({{"x-forwarded-host", "a.example"}, {"x-forwarded-host", "b.example"}}), false);
  EXPECT_EQ(f.host, "b.example");
  f = p.FromHeaders(Head({{"host", "x"}, {"user-agent", "y"}}), false);
  EXPECT_FALSE(f.client);
  EXPECT_EQ(f.host, "");
  EXPECT_EQ(f.scheme, "");
}

}  // namespace
}  // namespace esg::http
