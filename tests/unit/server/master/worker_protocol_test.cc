// WorkerMessageReader (bounded line splitting of the worker -> master channel), ParseWorkerMessage and
// EncodeWorkerCommand (server/master/worker_protocol.h).
#include "server/master/worker_protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace esg {
namespace {

std::vector<std::string> FeedAll(WorkerMessageReader* reader, const std::vector<std::string>& chunks, bool* ok) {
  std::vector<std::string> lines;
  *ok = true;
  for (const std::string& chunk : chunks) {
    *ok = reader->Feed(chunk, [&lines](std::string_view line) { lines.emplace_back(line); });
  }
  return lines;
}

TEST(WorkerMessageReaderTest, SplitsLinesAcrossReads) {
  WorkerMessageReader reader;
  bool ok;
  auto lines = FeedAll(&reader, {"{\"event\": \"re", "ady\"}\n{\"a\":1}\n\n{\"b", "\":2}\n"}, &ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"event\": \"ready\"}", "{\"a\":1}", "", "{\"b\":2}"}));
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(WorkerMessageReaderTest, ALineWithoutNewlineLongerThanTheCapOverflows) {
  WorkerMessageReader reader(16);
  bool ok;
  auto lines = FeedAll(&reader, {"short\n", std::string(10, 'x'), std::string(7, 'y')}, &ok);
  EXPECT_FALSE(ok);
  EXPECT_TRUE(reader.overflowed());
  EXPECT_EQ(reader.buffered(), 0u);
  EXPECT_EQ(lines, std::vector<std::string>{"short"});
  // Sticky: nothing is delivered any more.
  EXPECT_FALSE(reader.Feed("\nlater\n", [](std::string_view) { ADD_FAILURE(); }));
}

TEST(WorkerMessageReaderTest, ACompleteLongLineInOneReadOverflowsToo) {
  WorkerMessageReader reader(16);
  bool ok;
  auto lines = FeedAll(&reader, {"a\n" + std::string(17, 'x') + "\nb\n"}, &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(lines, std::vector<std::string>{"a"});
}

TEST(WorkerMessageReaderTest, ALineExactlyAtTheCapIsAccepted) {
  WorkerMessageReader reader(16);
  bool ok;
  auto lines = FeedAll(&reader, {std::string(8, 'x'), std::string(8, 'x'), "\n"}, &ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(lines, std::vector<std::string>{std::string(16, 'x')});
}

TEST(WorkerMessageReaderTest, TheDefaultCapBoundsTheBuffer) {
  WorkerMessageReader reader;
  std::string chunk(65536, 'z');
  bool ok = true;
  for (int i = 0; i < 64 && ok; ++i) {
    ok = reader.Feed(chunk, [](std::string_view) {});
    EXPECT_LE(reader.buffered(), kMaxWorkerMessageBytes);
  }
  EXPECT_FALSE(ok);
}

TEST(ParseWorkerMessageTest, KnownEvents) {
  WorkerMessage m = ParseWorkerMessage(R"({"event": "heartbeat", "requests": 5, "in_flight": 1, "connections": 2, "rss": 9})");
  EXPECT_EQ(m.kind, WorkerMessage::Kind::kHeartbeat);
  EXPECT_EQ(m.requests, 5u);
  EXPECT_EQ(m.in_flight, 1u);
  EXPECT_EQ(m.connections, 2u);
  EXPECT_EQ(m.rss, 9u);
  EXPECT_EQ(ParseWorkerMessage(R"({"event": "ready", "pid": 3})").kind, WorkerMessage::Kind::kReady);
  m = ParseWorkerMessage(R"({"event": "startup_failed", "message": "boom"})");
  EXPECT_EQ(m.kind, WorkerMessage::Kind::kStartupFailed);
  EXPECT_EQ(m.message, "boom");
  m = ParseWorkerMessage(R"({"event": "max_requests", "requests": 100})");
  EXPECT_EQ(m.kind, WorkerMessage::Kind::kMaxRequests);
  EXPECT_EQ(m.requests, 100u);
  EXPECT_EQ(ParseWorkerMessage(R"({"event": "from_the_future"})").kind, WorkerMessage::Kind::kUnknown);
}

TEST(ParseWorkerMessageTest, HeartbeatRequestCounters) {
  WorkerMessage m = ParseWorkerMessage(
      R"({"event": "heartbeat", "websockets": 4, "requests_by_class": [1, 2, 3, 4, 5, 6],)"
      R"( "duration_buckets": [7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8], "duration_sum_us": 123456789,)"
      R"( "received_bytes": 1000, "sent_bytes": 2000})");
  EXPECT_EQ(m.kind, WorkerMessage::Kind::kHeartbeat);
  EXPECT_EQ(m.websockets, 4u);
  ASSERT_TRUE(m.has_counters);
  EXPECT_EQ(m.counters.requests[0][0], 1u);  // GET 1xx
  EXPECT_EQ(m.counters.requests[0][4], 5u);  // GET 5xx
  EXPECT_EQ(m.counters.requests[1][0], 6u);  // HEAD 1xx: row-major, 5 status classes per method class
  EXPECT_EQ(m.counters.requests[1][1], 0u);  // missing elements read as 0
  EXPECT_EQ(m.counters.duration_buckets[0], 7u);
  EXPECT_EQ(m.counters.duration_buckets[kDurationBuckets - 1], 8u);
  EXPECT_EQ(m.counters.duration_sum_us, 123456789u);
  EXPECT_EQ(m.counters.received_bytes, 1000u);
  EXPECT_EQ(m.counters.sent_bytes, 2000u);
}

TEST(ParseWorkerMessageTest, HeartbeatCountersAreBackwardCompatibleAndBounded) {
  // An older worker's heartbeat (or one without --metrics-bind): no counters, all zero.
  WorkerMessage m = ParseWorkerMessage(R"({"event": "heartbeat", "requests": 5})");
  EXPECT_FALSE(m.has_counters);
  EXPECT_EQ(m.websockets, 0u);
  EXPECT_EQ(m.counters.total_requests(), 0u);
  EXPECT_EQ(m.counters.duration_sum_us, 0u);
  // Wrong types read as 0; a longer array than the table (a newer worker's classes) is cut, never overflows.
  std::string many = "[";
  for (int i = 0; i < 10000; ++i) many += (i ? ",9" : "9");
  many += "]";
  m = ParseWorkerMessage(R"({"event": "heartbeat", "requests_by_class": )" + many +
                         R"(, "duration_buckets": )" + many + R"(, "received_bytes": -3, "sent_bytes": "x"})");
  ASSERT_TRUE(m.has_counters);
  EXPECT_EQ(m.counters.total_requests(), 9u * kMethodClasses * kStatusClasses);
  EXPECT_EQ(m.counters.duration_buckets[kDurationBuckets - 1], 9u);
  EXPECT_EQ(m.counters.received_bytes, 0u);
  EXPECT_EQ(m.counters.sent_bytes, 0u);
  m = ParseWorkerMessage(R"({"event": "heartbeat", "requests_by_class": [-1, 1.5, "2", null, {}, 3],)"
                         R"( "duration_buckets": {"0": 1}})");
  ASSERT_TRUE(m.has_counters);
  EXPECT_EQ(m.counters.total_requests(), 3u);
  EXPECT_EQ(m.counters.requests[1][0], 3u);
  EXPECT_EQ(m.counters.duration_buckets[0], 0u);
  m = ParseWorkerMessage(R"({"event": "heartbeat", "requests_by_class": 7})");
  EXPECT_FALSE(m.has_counters);
}

TEST(ParseWorkerMessageTest, WrongTypesNeitherThrowNorCount) {
  // A non-string message used to throw nlohmann::type_error out of the master's io thread.
  WorkerMessage m = ParseWorkerMessage(R"({"event": "startup_failed", "message": 42})");
  EXPECT_EQ(m.kind, WorkerMessage::Kind::kStartupFailed);
  EXPECT_EQ(m.message, "");
  m = ParseWorkerMessage(R"({"event": "heartbeat", "requests": -1, "rss": "big", "in_flight": 1.5})");
  EXPECT_EQ(m.kind, WorkerMessage::Kind::kHeartbeat);
  EXPECT_EQ(m.requests, 0u);
  EXPECT_EQ(m.rss, 0u);
  EXPECT_EQ(m.in_flight, 0u);
  for (const char* bad : {"", "null", "[]", "{", "{\"event\": 1}", "\"event\"", "{\"no\": \"event\"}", "\xff\xfe"}) {
    EXPECT_EQ(ParseWorkerMessage(bad).kind, WorkerMessage::Kind::kMalformed) << bad;
  }
}

TEST(WorkerMessageNameTest, NamesRoundTripThroughTheParser) {
  for (auto kind : {WorkerMessage::Kind::kReady, WorkerMessage::Kind::kHeartbeat, WorkerMessage::Kind::kStartupFailed,
                    WorkerMessage::Kind::kMaxRequests}) {
    std::string line = "{\"event\": \"" + std::string(WorkerMessageName(kind)) + "\"}";
    EXPECT_EQ(ParseWorkerMessage(line).kind, kind) << line;
  }
  EXPECT_EQ(WorkerMessageName(WorkerMessage::Kind::kUnknown), "");
}

TEST(EncodeWorkerCommandTest, TheBytesTheWorkerReads) {
  // Byte for byte what the master has always sent (esg/worker_process.py parses each line as JSON).
  EXPECT_EQ(EncodeWorkerCommand(WorkerCommand::Drain()), "{\"cmd\": \"drain\"}\n");
  EXPECT_EQ(EncodeWorkerCommand(WorkerCommand::ReopenLogs()), "{\"cmd\": \"reopen_logs\"}\n");
  EXPECT_EQ(EncodeWorkerCommand(WorkerCommand::SetLogLevel("debug")),
            "{\"cmd\":\"set_log_level\",\"level\":\"debug\"}\n");
}

TEST(EncodeWorkerCommandTest, ALevelIsJsonEscapedOnOneLine) {
  std::string line = EncodeWorkerCommand(WorkerCommand::SetLogLevel("a\"b\nc"));
  EXPECT_EQ(line, "{\"cmd\":\"set_log_level\",\"level\":\"a\\\"b\\nc\"}\n");
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

}  // namespace
}  // namespace esg
