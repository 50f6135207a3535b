// Unit tests for server/http/websocket and permessage_deflate: the frame parser (limits from the header,
// fragmentation rules, any split of the input), the UTF-8 validator, and the inflater (Z_FINISH data,
// windows kept across messages, size caps, termination on bad data).
#include "server/http/websocket.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <vector>

#include "server/http/permessage_deflate.h"

namespace esg::http {
namespace {

// A masked client frame.
std::string Frame(int opcode, std::string_view payload, bool fin = true, int rsv = 0) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | rsv | opcode));
  size_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(0x80 | n));
  } else if (n < 65536) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n));
  } else {
    f.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>(static_cast<uint64_t>(n) >> (8 * i)));
  }
  const char mask[4] = {0x11, 0x22, 0x33, 0x44};
  f.append(mask, 4);
  for (size_t i = 0; i < n; ++i) f.push_back(static_cast<char>(payload[i] ^ mask[i & 3]));
  return f;
}

std::string Header64(int b0, uint64_t length) {
  std::string f;
  f.push_back(static_cast<char>(b0));
  f.push_back(static_cast<char>(0x80 | 127));
  for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>(length >> (8 * i)));
  return f;  // no mask: the parser must not need it to judge the length
}

// Records events as text: "S<t|b><c|->" message start, "D<bytes>" data (joined), "E" end, "C<op>:<payload>".
struct Recorder : WsFrameHandler {
  std::vector<std::string> events;
  bool OnMessageStart(bool text, bool compressed) override {
    events.push_back(std::string("S") + (text ? "t" : "b") + (compressed ? "c" : "-"));
    return true;
  }
  bool OnMessageData(std::string_view data) override {
    EXPECT_FALSE(data.empty());
    if (!events.empty() && events.back()[0] == 'D') events.back().append(data);
    else events.push_back("D" + std::string(data));
    return true;
  }
  bool OnMessageEnd() override {
    events.push_back("E");
    return true;
  }
  bool OnControl(WsOpcode opcode, std::string_view payload) override {
    events.push_back("C" + std::to_string(static_cast<int>(opcode)) + ":" + std::string(payload));
    return true;
  }
};

struct Result {
  std::vector<std::string> events;
  int error = 0;
  size_t consumed = 0;
};

Result Parse(std::string input, size_t step = 0, bool rsv1 = false, uint64_t limit = 1 << 20) {
  WsFrameParser parser(rsv1, limit);
  Recorder r;
  Result res;
  if (step == 0) step = input.size() ? input.size() : 1;
  for (size_t pos = 0; pos < input.size() && !parser.stopped();) {
    size_t n = std::min(step, input.size() - pos);
    size_t used = parser.Feed(input.data() + pos, n, &r);
    res.consumed += used;
    if (used < n) break;
    pos += n;
  }
  res.events = r.events;
  res.error = parser.error_code();
  return res;
}

TEST(WsFrameParserTest, FragmentsAndControlFramesInAnySplit) {
  std::string in = Frame(1, "hel", false) + Frame(9, "p") + Frame(0, "lo") + Frame(2, std::string(70000, 'x')) +
                   Frame(8, std::string("\x03\xe8", 2));
  Result whole = Parse(in);
  EXPECT_EQ(whole.error, 0);
  std::vector<std::string> want = {"St-", "Dhel", "C9:p", "Dlo", "E", "Sb-", "D" + std::string(70000, 'x'), "E",
                                   "C8:" + std::string("\x03\xe8", 2)};
  // "hel" and "lo" are separate data events because the ping sits between them.
  EXPECT_EQ(whole.events, want);
  for (size_t step : {1, 2, 3, 7, 13, 4096}) EXPECT_EQ(Parse(in, step).events, want) << step;
}

TEST(WsFrameParserTest, EmptyFrames) {
  Result r = Parse(Frame(1, "", false) + Frame(0, "", false) + Frame(0, "") + Frame(10, ""));
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(r.events, (std::vector<std::string>{"St-", "E", "C10:"}));
}

TEST(WsFrameParserTest, TopBitOfA64BitLengthIs1002BeforeTheMask) {
  for (size_t step : {0, 1}) {
    Result r = Parse(Header64(0x82, uint64_t{1} << 63), step);
    EXPECT_EQ(r.error, 1002);
    EXPECT_EQ(r.consumed, 10u);
  }
}

TEST(WsFrameParserTest, LengthPastTheLimitIs1009BeforeTheMask) {
  Result r = Parse(Header64(0x82, 1001), 0, false, 1000);
  EXPECT_EQ(r.error, 1009);
  EXPECT_TRUE(r.events.empty());
  EXPECT_EQ(Parse(Frame(2, std::string(1000, 'a')), 0, false, 1000).error, 0);
}

TEST(WsFrameParserTest, FragmentsCountTowardsTheLimit) {
  std::string first = Frame(2, std::string(600, 'a'), false);
  Result r = Parse(first + Header64(0x80, 401), 0, false, 1000);
  EXPECT_EQ(r.error, 1009);
  EXPECT_EQ(r.events.size(), 2u);  // the start and the first fragment's data, nothing of the second
  EXPECT_EQ(Parse(first + Frame(0, std::string(400, 'b')), 0, false, 1000).error, 0);
  // A finished message does not count towards the next one.
  EXPECT_EQ(Parse(Frame(2, std::string(1000, 'a')) + Frame(2, std::string(1000, 'a')), 0, false, 1000).error, 0);
}

TEST(WsFrameParserTest, ProtocolErrors) {
  struct Case {
    std::string input;
    int code;
  } cases[] = {
      {std::string("\x81\x02hi", 4), 1002},                       // not masked
      {Frame(3, "x"), 1002},                                        // reserved opcode
      {Frame(1, "x", true, 0x20), 1002},                            // RSV2
      {Frame(1, "x", true, 0x40), 1002},                            // RSV1 without permessage-deflate
      {Frame(9, "x", false), 1002},                                 // fragmented ping
      {Frame(9, std::string(126, 'x')), 1002},                      // control frame too long
      {Frame(0, "x"), 1002},                                        // continuation without a message
      {Frame(1, "a", false) + Frame(1, "b"), 1002},                 // new message inside one
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Parse(c.input).error, c.code);
    EXPECT_EQ(Parse(c.input, 1).error, c.code);
  }
  // RSV1 is allowed on a first frame when deflate was negotiated, never on a continuation or control frame.
  EXPECT_EQ(Parse(Frame(1, "x", true, 0x40), 0, true).error, 0);
  EXPECT_EQ(Parse(Frame(1, "x", false, 0x40) + Frame(0, "y", true, 0x40), 0, true).error, 1002);
  EXPECT_EQ(Parse(Frame(9, "x", true, 0x40), 0, true).error, 1002);
}

TEST(Utf8ValidatorTest, ValidatesAcrossPieces) {
  std::string text = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    Utf8Validator v;
    EXPECT_TRUE(v.Feed(std::string_view(text).substr(0, cut)));
    EXPECT_TRUE(v.Feed(std::string_view(text).substr(cut)));
    EXPECT_TRUE(v.Complete());
  }
  Utf8Validator v;
  EXPECT_TRUE(v.Feed("\xe2\x82"));
  EXPECT_FALSE(v.Complete());
  EXPECT_FALSE(v.Feed("("));
}

TEST(Utf8ValidatorTest, FailsAtTheFirstImpossibleByte) {
  for (std::string_view bad : {"\xc0", "\xc1", "\xf5", "\xff", "\xe0\x80", "\xed\xa0", "\xf0\x80", "\xf4\x90",
                               "\x80"}) {
    Utf8Validator v;
    EXPECT_FALSE(v.Feed(bad)) << bad.size();
    EXPECT_FALSE(v.Feed("a"));  // stays failed
  }
  EXPECT_TRUE(ValidUtf8("\xf4\x8f\xbf\xbf"));
  EXPECT_FALSE(ValidUtf8("\xed\xbf\xbf"));
  EXPECT_FALSE(ValidUtf8("\xe0\x9f\xbf"));
}

std::string RawDeflate(std::string_view data, int flush, std::string_view dict = {}) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  if (!dict.empty()) {
    deflateSetDictionary(&z, reinterpret_cast<const Bytef*>(dict.data()), static_cast<uInt>(dict.size()));
  }
  std::string out(deflateBound(&z, data.size()) + 16, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, flush);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  if (flush == Z_SYNC_FLUSH) out.resize(out.size() - 4);  // the 00 00 ff ff RFC 7692 drops
  return out;
}

TEST(PerMessageDeflateTest, MessageEndingTheDeflateStreamIsDecodedAndTheWindowKept) {
  PerMessageDeflate d(DeflateParams{});
  std::string out;
  bool too_big = false;
  ASSERT_TRUE(d.Decompress(RawDeflate("hello hello hello", Z_FINISH), 1000, &out, &too_big));
  EXPECT_EQ(out, "hello hello hello");
  // The next message refers to the previous one's data (context takeover across the final block).
  ASSERT_TRUE(d.Decompress(RawDeflate("hello hello hello!", Z_FINISH, "hello hello hello"), 1000, &out, &too_big));
  EXPECT_EQ(out, "hello hello hello!");
  ASSERT_TRUE(d.Decompress(RawDeflate("plain", Z_SYNC_FLUSH), 1000, &out, &too_big));
  EXPECT_EQ(out, "plain");
}

TEST(PerMessageDeflateTest, DataAfterTheEndOfTheStreamIsCorrupt) {
  PerMessageDeflate d(DeflateParams{});
  std::string out;
  bool too_big = false;
  EXPECT_FALSE(d.Decompress(RawDeflate("one", Z_FINISH) + RawDeflate("two", Z_FINISH), 1000, &out, &too_big));
  EXPECT_FALSE(too_big);
}

TEST(PerMessageDeflateTest, InflatedSizeIsCappedWhileInflating) {
  std::string bomb = RawDeflate(std::string(1 << 22, '\0'), Z_SYNC_FLUSH);
  PerMessageDeflate d(DeflateParams{});
  std::string out;
  EXPECT_EQ(d.Inflate(bomb, true, 1 << 16, &out), PerMessageDeflate::InflateResult::kTooBig);
  EXPECT_LE(out.size(), 1u << 16);
  PerMessageDeflate exact(DeflateParams{});
  out.clear();
  EXPECT_EQ(exact.Inflate(bomb, true, 1 << 22, &out), PerMessageDeflate::InflateResult::kOk);
  EXPECT_EQ(out.size(), 1u << 22);
}

TEST(PerMessageDeflateTest, InflatesPieceByPiece) {
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "line " + std::to_string(i) + "\n";
  std::string z = RawDeflate(text, Z_SYNC_FLUSH);
  PerMessageDeflate d(DeflateParams{});
  std::string out;
  for (size_t i = 0; i < z.size(); i += 7) {
    ASSERT_EQ(d.Inflate(std::string_view(z).substr(i, 7), false, text.size(), &out),
              PerMessageDeflate::InflateResult::kOk);
  }
  ASSERT_EQ(d.Inflate({}, true, text.size(), &out), PerMessageDeflate::InflateResult::kOk);
  EXPECT_EQ(out, text);
}

TEST(PerMessageDeflateTest, GarbageTerminates) {
  PerMessageDeflate d(DeflateParams{});
  std::string out;
  bool too_big = false;
  EXPECT_FALSE(d.Decompress(std::string("\xff\xff\xff\xff\xff", 5), 1000, &out, &too_big));
}

TEST(PerMessageDeflateTest, RoundTripWithContextTakeover) {
  for (bool no_takeover : {false, true}) {
    DeflateParams p;
    p.server_no_context_takeover = p.client_no_context_takeover = no_takeover;
    PerMessageDeflate server(p), client(p);  // the client side inflates what the server deflates
    for (int i = 0; i < 6; ++i) {
      // Empty messages too, twice in a row (zlib gives nothing for the second: fuzzer finding).
      std::string msg = i < 2 ? "" : "message number " + std::to_string(i) + std::string(100, 'a' + i);
      std::string z, back;
      ASSERT_TRUE(server.Compress(msg, &z));
      bool too_big = false;
      ASSERT_TRUE(client.Decompress(z, msg.size(), &back, &too_big));
      EXPECT_EQ(back, msg);
    }
  }
}

}  // namespace
}  // namespace esg::http
