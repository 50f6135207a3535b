// Unit tests for H2HeadBuilder (server/http2/h2_head.h): the head the app sees, and the verdicts for the
// requests H2Session must not hand over (the end-to-end cases are in h2_session_test.cc).
#include "server/http2/h2_head.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace esg::http2 {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

H2HeadBuilder::Verdict Build(const Fields& fields, StreamHead* out, size_t max_list = 32768, size_t max_fields = 100) {
  H2HeadBuilder b(max_list, max_fields);
  b.StartBlock();
  for (const auto& f : fields) b.AddField(f.first, f.second, out);
  return b.Finish(out);
}

const Fields kGet = {{":method", "GET"}, {":scheme", "https"}, {":authority", "a.example"}, {":path", "/p?q=1"}};

Fields With(Fields extra) {
  Fields f = kGet;
  f.insert(f.end(), extra.begin(), extra.end());
  return f;
}

TEST(H2HeadBuilder, BuildsTheHeadWithHostFirstAndCookiesJoined) {
  StreamHead h;
  ASSERT_EQ(Build(With({{"accept", "*/*"}, {"cookie", "a=1"}, {"content-length", "42"}, {"cookie", "b=2"}}), &h),
            H2HeadBuilder::Verdict::kOk);
  EXPECT_EQ(h.head.method, "GET");
  EXPECT_EQ(h.head.target, "/p?q=1");
  EXPECT_EQ(h.scheme, "https");
  EXPECT_EQ(h.head.version_major, 2);
  EXPECT_EQ(h.head.version_minor, 0);
  EXPECT_EQ(h.head.content_length, 42);
  ASSERT_EQ(h.head.header_count, 4u);
  EXPECT_EQ(h.head.headers[0].name, "host");
  EXPECT_EQ(h.head.headers[0].value, "a.example");
  EXPECT_EQ(h.head.headers[1].name, "accept");
  EXPECT_EQ(h.head.headers[2].name, "content-length");
  EXPECT_EQ(h.head.headers[3].name, "cookie");
  EXPECT_EQ(h.head.headers[3].value, "a=1; b=2");
}

TEST(H2HeadBuilder, HostAloneStandsInAndEqualHostIsFolded) {
  StreamHead a;
  ASSERT_EQ(Build({{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"host", "h.example"}}, &a),
            H2HeadBuilder::Verdict::kOk);
  ASSERT_EQ(a.head.headers.size(), 1u);
  EXPECT_EQ(a.head.headers[0].value, "h.example");
  StreamHead b;
  ASSERT_EQ(Build(With({{"host", "A.Example"}}), &b), H2HeadBuilder::Verdict::kOk);
  ASSERT_EQ(b.head.headers.size(), 1u);
  EXPECT_EQ(b.head.headers[0].value, "a.example");
  StreamHead c;
  ASSERT_EQ(Build({{":method", "GET"}, {":scheme", "http"}, {":path", "/"}}, &c), H2HeadBuilder::Verdict::kOk);
  EXPECT_TRUE(c.head.headers.empty());
}

TEST(H2HeadBuilder, Verdicts) {
  StreamHead h;
  EXPECT_EQ(Build(With({{"host", "b.example"}}), &h), H2HeadBuilder::Verdict::kMalformed);
  StreamHead p;
  EXPECT_EQ(Build({{":method", "GET"}, {":scheme", "http"}, {":path", "x"}}, &p), H2HeadBuilder::Verdict::kMalformed);
  StreamHead star;
  EXPECT_EQ(Build({{":method", "OPTIONS"}, {":scheme", "http"}, {":path", "*"}}, &star), H2HeadBuilder::Verdict::kOk);
  StreamHead c;
  EXPECT_EQ(Build({{":method", "CONNECT"}, {":authority", "a:443"}}, &c), H2HeadBuilder::Verdict::kConnect);
}

TEST(H2HeadBuilder, BoundsCountEveryFieldAndKeepNothingPast) {
  StreamHead h;
  // 4 pseudo-headers + 96 fields = 100: fine; one more is too many.
  Fields f = kGet;
  for (int i = 0; i < 96; ++i) f.push_back({"x-" + std::to_string(i), "v"});
  EXPECT_EQ(Build(f, &h), H2HeadBuilder::Verdict::kOk);
  f.push_back({"x-last", "v"});
  StreamHead g;
  EXPECT_EQ(Build(f, &g), H2HeadBuilder::Verdict::kTooLarge);
  EXPECT_LE(g.head.headers.size(), 96u);
  // List size: name + value + 32 per field.
  StreamHead l;
  EXPECT_EQ(Build(With({{"x", std::string(200, 'v')}}), &l, 100 + 200 + 33), H2HeadBuilder::Verdict::kTooLarge);
  StreamHead m;
  size_t exact = (7 + 3 + 32) + (7 + 5 + 32) + (10 + 9 + 32) + (5 + 6 + 32) + (1 + 200 + 32);
  EXPECT_EQ(Build(With({{"x", std::string(200, 'v')}}), &m, exact), H2HeadBuilder::Verdict::kOk);
  StreamHead n;
  EXPECT_EQ(Build(With({{"x", std::string(200, 'v')}}), &n, exact - 1), H2HeadBuilder::Verdict::kTooLarge);
}

TEST(H2HeadBuilder, TrailerFieldsAreCountedNotKept) {
  StreamHead h;
  H2HeadBuilder b(200, 100);  // the head is 180
  b.StartBlock();
  for (const auto& f : kGet) b.AddField(f.first, f.second, &h);
  ASSERT_EQ(b.Finish(&h), H2HeadBuilder::Verdict::kOk);
  size_t fields = h.head.headers.size();
  b.StartBlock();
  b.CountField("x-trailer", "1");
  EXPECT_FALSE(b.too_large());
  b.CountField("x-trailer", std::string(150, 't'));
  EXPECT_TRUE(b.too_large());
  EXPECT_EQ(h.head.headers.size(), fields);
}

}  // namespace
}  // namespace esg::http2
