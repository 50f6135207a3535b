// Tests for RequestCounters (server/common/request_counters.h): the classes and buckets every request lands
// in, and the two ways the master combines readings (Add over workers, MaxWith over one worker's heartbeats).
#include "server/common/request_counters.h"

#include <gtest/gtest.h>

namespace esg {
namespace {

TEST(RequestCountersTest, MethodClasses) {
  EXPECT_EQ(kMethodClassNames[MethodClassOf("GET")], "GET");
  EXPECT_EQ(kMethodClassNames[MethodClassOf("HEAD")], "HEAD");
  EXPECT_EQ(kMethodClassNames[MethodClassOf("POST")], "POST");
  EXPECT_EQ(kMethodClassNames[MethodClassOf("PUT")], "PUT");
  EXPECT_EQ(kMethodClassNames[MethodClassOf("PATCH")], "PATCH");
  EXPECT_EQ(kMethodClassNames[MethodClassOf("DELETE")], "DELETE");
  EXPECT_EQ(kMethodClassNames[MethodClassOf("OPTIONS")], "OPTIONS");
  // Methods are case-sensitive; anything else is "other", however long or strange.
  for (const char* m : {"get", "GETS", "PROPFIND", "", "BREW", "TRACE", "CONNECT", "GE\0T"}) {
    EXPECT_EQ(MethodClassOf(m), kMethodOther) << m;
  }
  EXPECT_EQ(MethodClassOf(std::string(100000, 'G')), kMethodOther);
}

TEST(RequestCountersTest, StatusClassesStayInTheTable) {
  EXPECT_EQ(kStatusClassNames[StatusClassOf(101)], "1xx");
  EXPECT_EQ(kStatusClassNames[StatusClassOf(200)], "2xx");
  EXPECT_EQ(kStatusClassNames[StatusClassOf(304)], "3xx");
  EXPECT_EQ(kStatusClassNames[StatusClassOf(404)], "4xx");
  EXPECT_EQ(kStatusClassNames[StatusClassOf(431)], "4xx");
  EXPECT_EQ(kStatusClassNames[StatusClassOf(599)], "5xx");
  EXPECT_EQ(StatusClassOf(0), 0);
  EXPECT_EQ(StatusClassOf(-7), 0);
  EXPECT_EQ(StatusClassOf(999), kStatusClasses - 1);
  EXPECT_EQ(StatusClassOf(1 << 30), kStatusClasses - 1);
}

TEST(RequestCountersTest, DurationBucketsIncludeTheirUpperBound) {
  EXPECT_EQ(DurationBucketOf(0), 0);
  EXPECT_EQ(DurationBucketOf(5'000), 0);  // le="0.005" holds exactly 5 ms
  EXPECT_EQ(DurationBucketOf(5'001), 1);
  EXPECT_EQ(DurationBucketOf(999'999), 7);
  EXPECT_EQ(DurationBucketOf(1'000'000), 7);
  EXPECT_EQ(DurationBucketOf(10'000'000), kDurationBounds - 1);
  EXPECT_EQ(DurationBucketOf(10'000'001), kDurationBounds);  // +Inf
  EXPECT_EQ(DurationBucketOf(UINT64_MAX), kDurationBounds);
  for (int i = 1; i < kDurationBounds; ++i) EXPECT_LT(kDurationBoundsMicros[i - 1], kDurationBoundsMicros[i]);
}

TEST(RequestCountersTest, RecordCountsOnceInEachFamily) {
  RequestCounters c;
  c.Record(MethodClassOf("GET"), 200, 1'000);
  c.Record(MethodClassOf("GET"), 404, 30'000);
  c.Record(kMethodOther, 400, 0);
  EXPECT_EQ(c.requests[0][1], 1u);
  EXPECT_EQ(c.requests[0][3], 1u);
  EXPECT_EQ(c.requests[kMethodOther][3], 1u);
  EXPECT_EQ(c.total_requests(), 3u);
  EXPECT_EQ(c.duration_buckets[0], 2u);
  EXPECT_EQ(c.duration_buckets[DurationBucketOf(30'000)], 1u);
  EXPECT_EQ(c.duration_sum_us, 31'000u);
}

TEST(RequestCountersTest, AddSumsAndMaxWithNeverGoesBack) {
  RequestCounters a, b;
  a.Record(0, 200, 10);
  a.received_bytes = 100;
  b.Record(0, 200, 20);
  b.Record(2, 500, 20'000'000);
  b.sent_bytes = 7;
  RequestCounters sum = a;
  sum.Add(b);
  EXPECT_EQ(sum.requests[0][1], 2u);
  EXPECT_EQ(sum.requests[2][4], 1u);
  EXPECT_EQ(sum.duration_buckets[kDurationBounds], 1u);
  EXPECT_EQ(sum.duration_sum_us, 20'000'030u);
  EXPECT_EQ(sum.received_bytes, 100u);
  EXPECT_EQ(sum.sent_bytes, 7u);

  // A later heartbeat that reads lower (a bogus or reordered one) moves nothing backwards.
  RequestCounters seen = sum;
  RequestCounters lower;
  lower.received_bytes = 5000;  // higher here, lower everywhere else
  seen.MaxWith(lower);
  EXPECT_EQ(seen.requests[0][1], 2u);
  EXPECT_EQ(seen.duration_sum_us, 20'000'030u);
  EXPECT_EQ(seen.received_bytes, 5000u);

  // A hostile worker's huge reading saturates the sum rather than wrapping it below the old total.
  RequestCounters huge;
  huge.sent_bytes = UINT64_MAX - 1;
  seen.Add(huge);
  EXPECT_EQ(seen.sent_bytes, UINT64_MAX);
}

}  // namespace
}  // namespace esg
