// Unit tests for H2Session (server/http2/h2_session.h) against a real nghttp2 client session, pumped in
// memory: round trips, flow control both ways, trailers, limits, and every defence — the adversarial ones
// with hand-built frames where a well-behaved client library would refuse to misbehave. The clock is
// injected and frozen unless a test moves it, so rate limits are exact.
#include "server/http2/h2_session.h"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <list>
#include <map>
#include <string>
#include <vector>

namespace esg::http2 {
namespace {

using http::Header;

// --- the server side: records what H2Session reports; the test answers through `session` ---

struct Request {
  StreamHead head;
  std::string body;
  bool ended = false;
  bool closed = false;
  uint32_t close_code = 0;
};

struct Recorder : H2Handler {
  H2Session* session = nullptr;
  std::map<int32_t, Request> reqs;
  std::vector<int32_t> drained;
  bool auto_consume = true;
  bool auto_answer = false;  // 200 "ok" as soon as the request ends
  void OnStreamHead(int32_t id, StreamHead& head) override { reqs[id].head = head; }
  void OnStreamData(int32_t id, std::string_view chunk) override {
    reqs[id].body.append(chunk);
    if (auto_consume) session->Consume(id, chunk.size());
  }
  void OnStreamEnd(int32_t id) override {
    reqs[id].ended = true;
    if (auto_answer) {
      session->SubmitResponse(id, 200, {{"content-type", "text/plain"}}, false);
      session->SubmitData(id, "ok", true);
    }
  }
  void OnStreamClose(int32_t id, uint32_t code) override {
    reqs[id].closed = true;
    reqs[id].close_code = code;
  }
  void OnStreamDrained(int32_t id) override { drained.push_back(id); }
};

// --- the client side: a real nghttp2 client session ---

struct Response {
  int status = 0;
  std::vector<Header> headers, trailers;
  std::string body;
  bool closed = false;
  uint32_t close_code = 0;
};

class Client {
 public:
  explicit Client(uint32_t peer_max_streams = 100, bool auto_window = true) {
    nghttp2_session_callbacks* cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, OnData);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, OnClose);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, OnFrame);
    nghttp2_option* opt;
    nghttp2_option_new(&opt);
    nghttp2_option_set_peer_max_concurrent_streams(opt, peer_max_streams);
    if (!auto_window) nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_session_client_new2(&s_, cb, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(s_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~Client() { nghttp2_session_del(s_); }

  // Request with the usual pseudo-headers unless `raw` replaces them all.
  int32_t Request(const std::string& method, const std::string& path, std::vector<Header> extra = {},
                  const std::string* body = nullptr, bool raw = false) {
    std::vector<Header> h;
    if (!raw) h = {{":method", method}, {":scheme", "https"}, {":authority", "example.com"}, {":path", path}};
    for (auto& e : extra) h.push_back(e);
    std::vector<nghttp2_nv> nva;
    for (auto& f : h)
      nva.push_back({(uint8_t*)f.name.data(), (uint8_t*)f.value.data(), f.name.size(), f.value.size(),
                     NGHTTP2_NV_FLAG_NONE});
    nghttp2_data_provider prd;
    if (body != nullptr) {
      bodies_.emplace_back(*body, 0);
      prd.source.ptr = &bodies_.back();
      prd.read_callback = ReadBody;
    }
    return nghttp2_submit_request(s_, nullptr, nva.data(), nva.size(), body ? &prd : nullptr, nullptr);
  }

  std::string Output() {
    std::string out;
    for (;;) {
      const uint8_t* p;
      ssize_t n = nghttp2_session_mem_send(s_, &p);
      if (n <= 0) break;
      out.append(reinterpret_cast<const char*>(p), n);
    }
    return out;
  }
  void Input(std::string_view in) {
    nghttp2_session_mem_recv(s_, reinterpret_cast<const uint8_t*>(in.data()), in.size());
  }

  nghttp2_session* s_;
  std::map<int32_t, Response> resps;
  bool goaway = false;
  int32_t goaway_last = -1;
  uint32_t goaway_code = 0;
  std::list<std::pair<std::string, size_t>> bodies_;

 private:
  static Client* Self(void* ud) { return static_cast<Client*>(ud); }
  static int OnHeader(nghttp2_session*, const nghttp2_frame* f, const uint8_t* n, size_t nl,
                      const uint8_t* v, size_t vl, uint8_t, void* ud) {
    Response& r = Self(ud)->resps[f->hd.stream_id];
    std::string name((const char*)n, nl), value((const char*)v, vl);
    if (name == ":status") r.status = std::stoi(value);
    else if (f->headers.cat == NGHTTP2_HCAT_HEADERS) r.trailers.push_back({name, value});
    else r.headers.push_back({name, value});
    return 0;
  }
  static int OnData(nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t n, void* ud) {
    Self(ud)->resps[id].body.append((const char*)d, n);
    return 0;
  }
  static int OnClose(nghttp2_session*, int32_t id, uint32_t code, void* ud) {
    Self(ud)->resps[id].closed = true;
    Self(ud)->resps[id].close_code = code;
    return 0;
  }
  static int OnFrame(nghttp2_session*, const nghttp2_frame* f, void* ud) {
    if (f->hd.type == NGHTTP2_GOAWAY) {
      Self(ud)->goaway = true;
      Self(ud)->goaway_last = f->goaway.last_stream_id;
      Self(ud)->goaway_code = f->goaway.error_code;
    }
    return 0;
  }
  static ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t* buf, size_t len, uint32_t* flags,
                          nghttp2_data_source* src, void*) {
    auto* b = static_cast<std::pair<std::string, size_t>*>(src->ptr);
    size_t n = std::min(len, b->first.size() - b->second);
    memcpy(buf, b->first.data() + b->second, n);
    b->second += n;
    if (b->second == b->first.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return n;
  }
};

// Moves bytes both ways until neither side has anything to say.
void Pump(Client& c, H2Session& srv) {
  for (int i = 0; i < 10000; ++i) {
    std::string up = c.Output();
    if (!up.empty()) srv.Feed(up.data(), up.size());
    std::string_view down = srv.PendingOutput();
    std::string copy(down);
    srv.TakeOutput(copy.size());
    if (!copy.empty()) c.Input(copy);
    if (up.empty() && copy.empty()) return;
  }
  FAIL() << "the sessions kept talking for 10000 rounds";
}

struct Fixture {
  explicit Fixture(H2Limits limits = {}, uint32_t peer_max_streams = 100, bool client_auto_window = true)
      : client(peer_max_streams, client_auto_window), session(limits, &rec, [this] { return now_ms; }) {
    rec.session = &session;
  }
  int64_t now_ms = 0;
  Recorder rec;
  Client client;
  H2Session session;
};

std::string Get(const std::vector<Header>& hs, const std::string& name) {
  for (auto& h : hs)
    if (h.name == name) return h.value;
  return "<none>";
}

// --- raw frames for what a client library will not send ---

std::string Frame(uint8_t type, uint8_t flags, int32_t stream, const std::string& payload) {
  std::string f;
  size_t n = payload.size();
  f += char(n >> 16);
  f += char(n >> 8);
  f += char(n);
  f += char(type);
  f += char(flags);
  f += char(stream >> 24);
  f += char(stream >> 16);
  f += char(stream >> 8);
  f += char(stream);
  return f + payload;
}

std::string Preface() { return std::string(NGHTTP2_CLIENT_MAGIC) + Frame(NGHTTP2_SETTINGS, 0, 0, ""); }

// HPACK block of a GET with `extra` literal fields, from nghttp2's own encoder.
std::string Block(std::vector<Header> extra = {}) {
  std::vector<Header> h = {{":method", "GET"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/"}};
  for (auto& e : extra) h.push_back(e);
  std::vector<nghttp2_nv> nva;
  for (auto& f : h)
    nva.push_back({(uint8_t*)f.name.data(), (uint8_t*)f.value.data(), f.name.size(), f.value.size(),
                   NGHTTP2_NV_FLAG_NO_INDEX});
  nghttp2_hd_deflater* d;
  nghttp2_hd_deflate_new(&d, 4096);
  std::string out(nghttp2_hd_deflate_bound(d, nva.data(), nva.size()), '\0');
  ssize_t n = nghttp2_hd_deflate_hd(d, (uint8_t*)out.data(), out.size(), nva.data(), nva.size());
  nghttp2_hd_deflate_del(d);
  out.resize(n);
  return out;
}

struct Goaway {
  bool seen = false;
  int32_t last = -1;
  uint32_t code = 0;
};

// The GOAWAY among the frames the server wrote, if any.
Goaway FindGoaway(std::string_view out) {
  Goaway g;
  while (out.size() >= 9) {
    size_t len = (uint8_t(out[0]) << 16) | (uint8_t(out[1]) << 8) | uint8_t(out[2]);
    if (out.size() < 9 + len) break;
    if (out[3] == NGHTTP2_GOAWAY && len >= 8) {
      auto u32 = [&](size_t at) {
        return (uint32_t(uint8_t(out[at])) << 24) | (uint32_t(uint8_t(out[at + 1])) << 16) |
               (uint32_t(uint8_t(out[at + 2])) << 8) | uint32_t(uint8_t(out[at + 3]));
      };
      g = {true, int32_t(u32(9) & 0x7fffffff), u32(13)};
    }
    out.remove_prefix(9 + len);
  }
  return g;
}

struct RawServer {
  explicit RawServer(H2Limits limits = {}) : session(limits, &rec, [this] { return now_ms; }) {
    rec.session = &session;
  }
  // Feeds and collects everything the server writes.
  bool Feed(const std::string& in) {
    bool ok = session.Feed(in.data(), in.size());
    Drain();
    return ok;
  }
  void Drain() {
    std::string_view o = session.PendingOutput();
    out.append(o);
    session.TakeOutput(o.size());
  }
  int64_t now_ms = 0;
  Recorder rec;
  H2Session session;
  std::string out;
};

// ============================== round trips ==============================

TEST(H2Session, GetRoundTripMapsPseudoHeadersToTheRequestHead) {
  Fixture f;
  int32_t id = f.client.Request("GET", "/hello?x=1", {{"accept", "*/*"}, {"cookie", "a=1"}, {"cookie", "b=2"}});
  Pump(f.client, f.session);
  ASSERT_EQ(f.rec.reqs.count(id), 1u);
  const Request& r = f.rec.reqs[id];
  EXPECT_TRUE(r.ended);
  EXPECT_EQ(r.head.head.method, "GET");
  EXPECT_EQ(r.head.head.target, "/hello?x=1");
  EXPECT_EQ(r.head.head.path(), "/hello");
  EXPECT_EQ(r.head.head.query_string(), "x=1");
  EXPECT_EQ(r.head.scheme, "https");
  EXPECT_EQ(r.head.head.version_major, 2);
  ASSERT_GE(r.head.head.headers.size(), 3u);
  EXPECT_EQ(r.head.head.headers[0].name, "host");
  EXPECT_EQ(r.head.head.headers[0].value, "example.com");
  EXPECT_EQ(Get(r.head.head.headers, "accept"), "*/*");
  EXPECT_EQ(Get(r.head.head.headers, "cookie"), "a=1; b=2");

  ASSERT_TRUE(f.session.SubmitResponse(id, 200, {{"Content-Type", "text/plain"}, {"Connection", "close"}}, false));
  ASSERT_TRUE(f.session.SubmitData(id, "hello", true));
  Pump(f.client, f.session);
  const Response& resp = f.client.resps[id];
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(Get(resp.headers, "content-type"), "text/plain");
  EXPECT_EQ(Get(resp.headers, "connection"), "<none>");  // connection-specific: dropped
  EXPECT_EQ(resp.body, "hello");
  EXPECT_TRUE(resp.closed);
  EXPECT_EQ(resp.close_code, 0u);
  EXPECT_TRUE(f.rec.reqs[id].closed);
  EXPECT_EQ(f.rec.reqs[id].close_code, 0u);
  EXPECT_EQ(f.session.open_streams(), 0u);
}

TEST(H2Session, HostHeaderStandsInForMissingAuthority) {
  Fixture f;
  int32_t id = f.client.Request("GET", "/", {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"host", "h.example"}},
                                nullptr, /*raw=*/true);
  Pump(f.client, f.session);
  ASSERT_EQ(f.rec.reqs.count(id), 1u);
  EXPECT_EQ(f.rec.reqs[id].head.head.headers[0].name, "host");
  EXPECT_EQ(f.rec.reqs[id].head.head.headers[0].value, "h.example");
  EXPECT_EQ(f.rec.reqs[id].head.head.header_count, 1u);
}

TEST(H2Session, PostBodyBeyondTheWindowFlowsOnlyAsTheAppConsumes) {
  Fixture f;
  f.rec.auto_consume = false;
  std::string body(200 * 1024, 'x');
  for (size_t i = 0; i < body.size(); ++i) body[i] = char('a' + i % 26);
  int32_t id = f.client.Request("POST", "/upload", {{"content-length", std::to_string(body.size())}}, &body);
  Pump(f.client, f.session);
  ASSERT_EQ(f.rec.reqs.count(id), 1u);
  EXPECT_EQ(f.rec.reqs[id].head.head.content_length, int64_t(body.size()));
  // Nothing consumed: the client stops at the stream window.
  EXPECT_EQ(f.rec.reqs[id].body.size(), 65535u);
  size_t consumed = 0;
  for (int round = 0; round < 100 && !f.rec.reqs[id].ended; ++round) {
    size_t received = f.rec.reqs[id].body.size();
    ASSERT_LE(received - consumed, 65535u);
    f.session.Consume(id, received - consumed);
    consumed = received;
    Pump(f.client, f.session);
  }
  EXPECT_TRUE(f.rec.reqs[id].ended);
  EXPECT_EQ(f.rec.reqs[id].body, body);
}

TEST(H2Session, ResponseBodyWaitsForThePeerWindowAndResumes) {
  Fixture f({}, 100, /*client_auto_window=*/false);
  int32_t id = f.client.Request("GET", "/big");
  Pump(f.client, f.session);
  ASSERT_TRUE(f.session.SubmitResponse(id, 200, {}, false));
  Pump(f.client, f.session);  // headers only: the provider is deferred
  EXPECT_EQ(f.client.resps[id].status, 200);
  std::string body(300 * 1024, 'b');
  ASSERT_TRUE(f.session.SubmitData(id, body, true));
  Pump(f.client, f.session);
  // The client never opened its window: exactly the initial 65535 bytes went out, the rest waits.
  EXPECT_EQ(f.client.resps[id].body.size(), 65535u);
  EXPECT_EQ(f.session.Buffered(id), body.size() - 65535u);
  size_t consumed = 0;
  for (int round = 0; round < 100 && !f.client.resps[id].closed; ++round) {
    size_t got = f.client.resps[id].body.size();
    ASSERT_LE(got - consumed, 65535u);  // never more than the window the client opened
    nghttp2_session_consume(f.client.s_, id, got - consumed);
    consumed = got;
    Pump(f.client, f.session);
  }
  EXPECT_TRUE(f.client.resps[id].closed);
  EXPECT_EQ(f.client.resps[id].body, body);
}

TEST(H2Session, DrainedIsReportedWhenTheBufferEmpties) {
  Fixture f;
  int32_t id = f.client.Request("GET", "/");
  Pump(f.client, f.session);
  ASSERT_TRUE(f.session.SubmitResponse(id, 200, {}, false));
  ASSERT_TRUE(f.session.SubmitData(id, "part1", false));
  Pump(f.client, f.session);
  EXPECT_EQ(f.rec.drained, std::vector<int32_t>{id});
  EXPECT_EQ(f.session.Buffered(id), 0u);
  ASSERT_TRUE(f.session.SubmitData(id, "part2", true));
  Pump(f.client, f.session);
  EXPECT_EQ(f.client.resps[id].body, "part1part2");
  EXPECT_FALSE(f.session.SubmitData(id, "late", false));  // stream is gone
}

TEST(H2Session, TrailersFollowTheBody) {
  Fixture f;
  int32_t id = f.client.Request("GET", "/");
  Pump(f.client, f.session);
  ASSERT_TRUE(f.session.SubmitResponse(id, 200, {{"trailer", "x-checksum"}}, false));
  ASSERT_TRUE(f.session.SubmitData(id, "data", false));
  ASSERT_TRUE(f.session.SubmitTrailers(id, {{"X-Checksum", "abc"}}));
  EXPECT_FALSE(f.session.SubmitData(id, "more", false));  // ended by the trailers
  Pump(f.client, f.session);
  const Response& r = f.client.resps[id];
  EXPECT_EQ(r.body, "data");
  ASSERT_EQ(r.trailers.size(), 1u);
  EXPECT_EQ(r.trailers[0].name, "x-checksum");
  EXPECT_EQ(r.trailers[0].value, "abc");
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.close_code, 0u);
}

TEST(H2Session, InvalidResponseHeaderIsRefused) {
  Fixture f;
  int32_t id = f.client.Request("GET", "/");
  Pump(f.client, f.session);
  EXPECT_FALSE(f.session.SubmitResponse(id, 200, {{"x-bad", "a\r\nb"}}, true));
  EXPECT_FALSE(f.session.SubmitResponse(id, 101, {}, true));
  EXPECT_TRUE(f.session.SubmitResponse(id, 204, {}, true));
  EXPECT_FALSE(f.session.SubmitResponse(id, 200, {}, true));  // answered already
}

TEST(H2Session, ServerResetReachesTheClientAndTheHandler) {
  Fixture f;
  int32_t id = f.client.Request("GET", "/");
  Pump(f.client, f.session);
  f.session.ResetStream(id, kInternalError);
  Pump(f.client, f.session);
  EXPECT_EQ(f.client.resps[id].close_code, uint32_t(kInternalError));
  EXPECT_TRUE(f.rec.reqs[id].closed);
  EXPECT_EQ(f.rec.reqs[id].close_code, uint32_t(kInternalError));
}

TEST(H2Session, PeerResetIsReportedAndItsUnconsumedBodyReturnsToTheConnection) {
  Fixture f;
  f.rec.auto_consume = false;
  std::string body(60000, 'x');
  int32_t id = f.client.Request("POST", "/", {}, &body);
  Pump(f.client, f.session);
  ASSERT_EQ(f.rec.reqs[id].body.size(), 60000u);
  nghttp2_submit_rst_stream(f.client.s_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  Pump(f.client, f.session);
  EXPECT_TRUE(f.rec.reqs[id].closed);
  EXPECT_EQ(f.rec.reqs[id].close_code, uint32_t(kCancel));
  // The connection window got the 60000 bytes back: more uploads than one window's worth go through.
  f.rec.auto_consume = true;
  std::string big(2 * 1024 * 1024, 'y');
  int32_t id2 = f.client.Request("POST", "/", {}, &big);
  Pump(f.client, f.session);
  EXPECT_TRUE(f.rec.reqs[id2].ended);
  EXPECT_EQ(f.rec.reqs[id2].body.size(), big.size());
}

// ============================== limits ==============================

TEST(H2Session, StreamsBeyondMaxConcurrentAreRefused) {
  H2Limits l;
  l.max_concurrent_streams = 10;
  Fixture f(l, /*peer_max_streams=*/1000);
  std::vector<int32_t> ids;
  for (int i = 0; i < 15; ++i) ids.push_back(f.client.Request("GET", "/"));
  // Everything goes out before the client sees the server's SETTINGS.
  std::string up = f.client.Output();
  ASSERT_TRUE(f.session.Feed(up.data(), up.size()));
  EXPECT_EQ(f.session.open_streams(), 10u);
  Pump(f.client, f.session);
  int refused = 0;
  for (int32_t id : ids)
    if (f.client.resps[id].closed && f.client.resps[id].close_code == NGHTTP2_REFUSED_STREAM) ++refused;
  EXPECT_EQ(refused, 5);
  EXPECT_EQ(f.rec.reqs.size(), 10u);
  // The admitted ones complete normally.
  for (auto& kv : f.rec.reqs) ASSERT_TRUE(f.session.SubmitResponse(kv.first, 200, {}, true));
  Pump(f.client, f.session);
  for (auto& kv : f.rec.reqs) EXPECT_EQ(f.client.resps[kv.first].status, 200);
  EXPECT_FALSE(f.client.goaway);
}

TEST(H2Session, OversizeHeaderListGets431AndTheConnectionLives) {
  Fixture f;
  int32_t id = f.client.Request("GET", "/", {{"x-a", std::string(20000, 'a')}, {"x-b", std::string(20000, 'b')}});
  Pump(f.client, f.session);
  EXPECT_EQ(f.rec.reqs.count(id), 0u);  // the app never sees it
  EXPECT_EQ(f.client.resps[id].status, 431);
  int32_t id2 = f.client.Request("GET", "/ok");
  Pump(f.client, f.session);
  EXPECT_EQ(f.rec.reqs.count(id2), 1u);
  EXPECT_FALSE(f.client.goaway);
}

TEST(H2Session, HttpLimitsCarryOver) {
  http::ParserLimits p;
  p.max_head_size = 1000;
  p.max_header_count = 7;
  H2Limits l = H2LimitsFrom(p);
  EXPECT_EQ(l.max_header_list_size, 1000u);
  EXPECT_EQ(l.max_header_count, 7u);
  Fixture f(l);
  int32_t big = f.client.Request("GET", "/", {{"x-a", std::string(900, 'a')}});
  int32_t ok = f.client.Request("GET", "/", {{"x-a", std::string(500, 'a')}});
  Pump(f.client, f.session);
  EXPECT_EQ(f.client.resps[big].status, 431);
  EXPECT_EQ(f.rec.reqs.count(ok), 1u);
}

TEST(H2Session, LocalAnswerToHeadHasNoContent) {
  Fixture f;
  int32_t id = f.client.Request("HEAD", "/", {{"x-a", std::string(40000, 'a')}});
  Pump(f.client, f.session);
  EXPECT_EQ(f.client.resps[id].status, 431);
  EXPECT_EQ(f.client.resps[id].body, "");
  EXPECT_EQ(f.client.resps[id].close_code, 0u);  // the client accepted the response as well-formed
}

TEST(H2Session, TooManyHeaderFieldsGets431) {
  Fixture f;
  std::vector<Header> many;
  for (int i = 0; i < 101; ++i) many.push_back({"x-h" + std::to_string(i), "v"});
  int32_t id = f.client.Request("GET", "/", many);
  Pump(f.client, f.session);
  EXPECT_EQ(f.rec.reqs.count(id), 0u);
  EXPECT_EQ(f.client.resps[id].status, 431);
}

TEST(H2Session, HpackBombIsBoundedBy431) {
  Fixture f;
  // The first request puts a 3000-byte field into the dynamic table; the second repeats it 20 times in
  // a few bytes of HPACK (60 KB decoded). Both leave before the client learns ESG's header-list limit
  // (nghttp2's client would otherwise refuse to send the second).
  std::string v(3000, 'z');
  int32_t id1 = f.client.Request("GET", "/", {{"x-bomb", v}});
  std::vector<Header> bomb(20, Header{"x-bomb", v});
  int32_t id2 = f.client.Request("GET", "/", bomb);
  std::string up = f.client.Output();
  EXPECT_LT(up.size(), v.size() + 300);  // the second request really is a bomb
  EXPECT_TRUE(f.session.Feed(up.data(), up.size()));
  Pump(f.client, f.session);
  EXPECT_EQ(f.rec.reqs.count(id1), 1u);
  EXPECT_EQ(f.rec.reqs.count(id2), 0u);
  EXPECT_EQ(f.client.resps[id2].status, 431);
  EXPECT_FALSE(f.client.goaway);
}

TEST(H2Session, ConnectIsRefusedWith501) {
  Fixture f;
  int32_t id = f.client.Request("", "", {{":method", "CONNECT"}, {":authority", "example.com:443"}}, nullptr, true);
  Pump(f.client, f.session);
  EXPECT_EQ(f.rec.reqs.count(id), 0u);
  EXPECT_EQ(f.client.resps[id].status, 501);
}

// Malformed requests (RFC 9113 §8.1.1, §8.2, §8.3): RST_STREAM PROTOCOL_ERROR, the app sees nothing.
struct Malformed {
  const char* what;
  std::vector<Header> headers;
};

class MalformedTest : public ::testing::TestWithParam<Malformed> {};

TEST_P(MalformedTest, IsResetWithProtocolError) {
  Fixture f;
  int32_t id = f.client.Request("", "", GetParam().headers, nullptr, /*raw=*/true);
  Pump(f.client, f.session);
  EXPECT_EQ(f.rec.reqs.count(id), 0u) << GetParam().what;
  EXPECT_TRUE(f.client.resps[id].closed) << GetParam().what;
  EXPECT_EQ(f.client.resps[id].close_code, uint32_t(NGHTTP2_PROTOCOL_ERROR)) << GetParam().what;
  // A stream error, not a connection error: the next request works.
  int32_t ok = f.client.Request("GET", "/");
  Pump(f.client, f.session);
  EXPECT_EQ(f.rec.reqs.count(ok), 1u) << GetParam().what;
}

const std::vector<Header> kBase = {{":method", "GET"}, {":scheme", "https"}, {":path", "/"}};
std::vector<Header> With(std::vector<Header> extra) {
  std::vector<Header> h = kBase;
  for (auto& e : extra) h.push_back(e);
  return h;
}

INSTANTIATE_TEST_SUITE_P(
    H2Session, MalformedTest,
    ::testing::Values(
        Malformed{"missing :path", {{":method", "GET"}, {":scheme", "https"}}},
        Malformed{"missing :method", {{":scheme", "https"}, {":path", "/"}}},
        Malformed{"missing :scheme", {{":method", "GET"}, {":path", "/"}}},
        Malformed{"duplicate :path", With({{":path", "/again"}})},
        Malformed{"unknown pseudo-header", With({{":foo", "bar"}})},
        Malformed{"response pseudo-header", With({{":status", "200"}})},
        Malformed{"pseudo after regular", {{":method", "GET"}, {"accept", "x"}, {":scheme", "https"}, {":path", "/"}}},
        Malformed{"empty :path", {{":method", "GET"}, {":scheme", "https"}, {":path", ""}}},
        Malformed{"relative :path", {{":method", "GET"}, {":scheme", "https"}, {":path", "x/y"}}},
        Malformed{"asterisk :path on GET", {{":method", "GET"}, {":scheme", "https"}, {":path", "*"}}},
        Malformed{"uppercase field name", With({{"Accept", "x"}})},
        Malformed{"connection header", With({{"connection", "keep-alive"}})},
        Malformed{"transfer-encoding", With({{"transfer-encoding", "chunked"}})},
        Malformed{"upgrade header", With({{"upgrade", "h2c"}})},
        Malformed{"te other than trailers", With({{"te", "gzip"}})},
        Malformed{"field value with CR LF", With({{"x-a", "a\r\nb"}})},
        Malformed{"host differs from :authority", With({{":authority", "a.example"}, {"host", "b.example"}})},
        Malformed{"bad content-length", With({{"content-length", "12x"}})}),
    [](const auto& info) {
      std::string n = info.param.what;
      for (char& c : n) if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      return n;
    });

TEST(H2Session, ContentLengthDisagreeingWithDataIsAStreamError) {
  Fixture f;
  std::string body = "12345";
  int32_t id = f.client.Request("POST", "/", {{"content-length", "10"}}, &body);
  Pump(f.client, f.session);
  EXPECT_TRUE(f.rec.reqs[id].closed);
  EXPECT_FALSE(f.rec.reqs[id].ended);
  EXPECT_EQ(f.client.resps[id].close_code, uint32_t(NGHTTP2_PROTOCOL_ERROR));
  EXPECT_FALSE(f.client.goaway);
}

TEST(H2Session, HostEqualToAuthorityIsFolded) {
  Fixture f;
  int32_t id = f.client.Request("GET", "/", {{"host", "EXAMPLE.com"}});
  Pump(f.client, f.session);
  ASSERT_EQ(f.rec.reqs.count(id), 1u);
  const auto& hs = f.rec.reqs[id].head.head.headers;
  EXPECT_EQ(hs.size(), 1u);
  EXPECT_EQ(hs[0].value, "example.com");
}

// ============================== defences ==============================

TEST(H2Session, RapidResetEndsInGoawayEnhanceYourCalm) {
  Fixture f;
  Pump(f.client, f.session);
  int sent = 0;
  for (; sent < 400 && !f.client.goaway; ++sent) {
    int32_t id = f.client.Request("GET", "/");
    std::string up = f.client.Output();  // the HEADERS must leave before the reset, or nghttp2 drops both
    f.session.Feed(up.data(), up.size());
    nghttp2_submit_rst_stream(f.client.s_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    Pump(f.client, f.session);
  }
  ASSERT_TRUE(f.client.goaway) << "no GOAWAY after " << sent << " resets";
  EXPECT_EQ(f.client.goaway_code, uint32_t(NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_EQ(sent, 201);  // the burst of 200, then the one that empties it
  EXPECT_EQ(f.session.goaway_code(), uint32_t(kEnhanceYourCalm));
  EXPECT_NE(f.session.error().find("reset"), std::string::npos);
  EXPECT_TRUE(f.session.Done());
  EXPECT_FALSE(f.session.Feed("x", 1));
}

TEST(H2Session, ResetsAtAModestRateAreTolerated) {
  Fixture f;
  Pump(f.client, f.session);
  for (int i = 0; i < 1000; ++i) {
    f.now_ms += 20;  // 50 resets per second, under the 100/s refill
    int32_t id = f.client.Request("GET", "/");
    std::string up = f.client.Output();
    f.session.Feed(up.data(), up.size());
    nghttp2_submit_rst_stream(f.client.s_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    Pump(f.client, f.session);
  }
  EXPECT_FALSE(f.client.goaway);
}

TEST(H2Session, RefusedStreamsCountAsResets) {
  H2Limits l;
  l.max_concurrent_streams = 1;
  l.reset_burst = 20;
  Fixture f(l, 1000);
  for (int i = 0; i < 40; ++i) f.client.Request("GET", "/");
  std::string up = f.client.Output();
  EXPECT_FALSE(f.session.Feed(up.data(), up.size()));
  EXPECT_EQ(f.session.goaway_code(), uint32_t(kEnhanceYourCalm));
  Pump(f.client, f.session);
  EXPECT_TRUE(f.client.goaway);
  EXPECT_EQ(f.client.goaway_code, uint32_t(NGHTTP2_ENHANCE_YOUR_CALM));
}

TEST(H2Session, ManyCompletedStreamsAreNotAnAttack) {
  Fixture f;
  f.rec.auto_answer = true;
  for (int i = 0; i < 2000; ++i) {
    f.client.Request("GET", "/");
    if (i % 50 == 49) Pump(f.client, f.session);
  }
  Pump(f.client, f.session);
  EXPECT_FALSE(f.client.goaway);
  EXPECT_EQ(f.rec.reqs.size(), 2000u);
}

TEST(H2Session, ContinuationFloodOfEmptyFramesEndsInGoaway) {
  RawServer s;
  std::string in = Preface() + Frame(NGHTTP2_HEADERS, 0, 1, Block());  // no END_HEADERS
  for (int i = 0; i < 100; ++i) in += Frame(NGHTTP2_CONTINUATION, 0, 1, "");
  EXPECT_FALSE(s.Feed(in));
  Goaway g = FindGoaway(s.out);
  ASSERT_TRUE(g.seen);
  EXPECT_EQ(g.code, uint32_t(NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_EQ(s.session.error(), "too many CONTINUATION frames in one header block");  // ESG's bound, not nghttp2's
  EXPECT_TRUE(s.rec.reqs.empty());
}

TEST(H2Session, ContinuationFloodOfBytesIsCutAtTheBlockBound) {
  H2Limits l;
  l.max_header_list_size = 4096;  // block bound: 8192 compressed bytes
  RawServer s(l);
  std::string block = Block({{"x-pad", std::string(20000, 'p')}});
  ASSERT_GT(block.size(), 9000u);
  std::string in = Preface() + Frame(NGHTTP2_HEADERS, 0, 1, block.substr(0, 3000));
  in += Frame(NGHTTP2_CONTINUATION, 0, 1, block.substr(3000, 3000));
  // The third frame would take the block past 8192 bytes: GOAWAY before its payload is decoded.
  in += Frame(NGHTTP2_CONTINUATION, 0, 1, block.substr(6000, 3000));
  EXPECT_FALSE(s.Feed(in));
  Goaway g = FindGoaway(s.out);
  ASSERT_TRUE(g.seen);
  EXPECT_EQ(g.code, uint32_t(NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_NE(s.session.error().find("header block"), std::string::npos);
}

TEST(H2Session, HeaderBlockSplitAcrossAFewContinuationsIsFine) {
  RawServer s;
  std::string block = Block({{"x-a", "1"}, {"x-b", "2"}});
  std::string in = Preface() + Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 1, block.substr(0, 5));
  in += Frame(NGHTTP2_CONTINUATION, 0, 1, block.substr(5, 5));
  in += Frame(NGHTTP2_CONTINUATION, NGHTTP2_FLAG_END_HEADERS, 1, block.substr(10));
  EXPECT_TRUE(s.Feed(in));
  ASSERT_EQ(s.rec.reqs.count(1), 1u);
  EXPECT_EQ(Get(s.rec.reqs[1].head.head.headers, "x-b"), "2");
  EXPECT_TRUE(s.rec.reqs[1].ended);
}

// nghttp2's own CONTINUATION counter (Debian's backport) counts reads of a frame header: fed byte by byte,
// a block of HEADERS + 4 CONTINUATIONs would count 36 and be cut at its default of 8. ESG moves it aside.
TEST(H2Session, HeaderBlockTrickledByteByByteIsFine) {
  RawServer s;
  std::string block = Block({{"x-a", "1"}, {"x-b", "2"}});
  std::string in = Preface() + Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 1, block.substr(0, 4));
  for (int i = 0; i < 3; ++i) in += Frame(NGHTTP2_CONTINUATION, 0, 1, block.substr(4 + 2 * i, 2));
  in += Frame(NGHTTP2_CONTINUATION, NGHTTP2_FLAG_END_HEADERS, 1, block.substr(10));
  for (char c : in) ASSERT_TRUE(s.Feed(std::string(1, c))) << s.session.error();
  ASSERT_EQ(s.rec.reqs.count(1), 1u);
  EXPECT_EQ(Get(s.rec.reqs[1].head.head.headers, "x-b"), "2");
}

TEST(H2Session, PingFloodWithAReadingPeerEndsInGoaway) {
  RawServer s;
  ASSERT_TRUE(s.Feed(Preface()));
  int sent = 0;
  for (; sent < 3000 && s.session.goaway_code() == 0; ++sent) s.Feed(Frame(NGHTTP2_PING, 0, 0, "12345678"));
  EXPECT_EQ(sent, 1000);  // the preface's SETTINGS took the first token of the burst
  Goaway g = FindGoaway(s.out);
  ASSERT_TRUE(g.seen);
  EXPECT_EQ(g.code, uint32_t(NGHTTP2_ENHANCE_YOUR_CALM));
}

TEST(H2Session, PingFloodWithAPeerThatDoesNotReadIsCutAtTheAckQueueBound) {
  H2Limits l;
  l.control_burst = 100000;  // only the outbound bound is under test
  RawServer s(l);
  std::string in = Preface();
  for (int i = 0; i < 500; ++i) in += Frame(NGHTTP2_PING, 0, 0, "12345678");
  EXPECT_FALSE(s.session.Feed(in.data(), in.size()));  // nothing drained in between
  EXPECT_EQ(s.session.goaway_code(), uint32_t(kEnhanceYourCalm));
  s.Drain();
  Goaway g = FindGoaway(s.out);
  ASSERT_TRUE(g.seen);
  EXPECT_EQ(g.code, uint32_t(NGHTTP2_ENHANCE_YOUR_CALM));
}

TEST(H2Session, SettingsFloodEndsInGoaway) {
  RawServer s;
  ASSERT_TRUE(s.Feed(Preface()));
  int sent = 0;
  for (; sent < 3000 && s.session.goaway_code() == 0; ++sent) s.Feed(Frame(NGHTTP2_SETTINGS, 0, 0, ""));
  EXPECT_EQ(sent, 1000);  // the preface's SETTINGS took the first token
  EXPECT_EQ(FindGoaway(s.out).code, uint32_t(NGHTTP2_ENHANCE_YOUR_CALM));
}

TEST(H2Session, SettingsFrameWithTooManyEntriesEndsTheConnection) {
  RawServer s;
  std::string entries;
  for (int i = 0; i < 40; ++i) entries += std::string("\x00\x03\x00\x00\x00\x64", 6);
  s.Feed(std::string(NGHTTP2_CLIENT_MAGIC) + Frame(NGHTTP2_SETTINGS, 0, 0, entries));
  Goaway g = FindGoaway(s.out);
  ASSERT_TRUE(g.seen);
  EXPECT_NE(g.code, 0u);
  EXPECT_TRUE(s.session.Done());
}

TEST(H2Session, WindowUpdateFloodEndsInGoaway) {
  RawServer s;
  ASSERT_TRUE(s.Feed(Preface()));
  int sent = 0;
  for (; sent < 3000 && s.session.goaway_code() == 0; ++sent)
    s.Feed(Frame(NGHTTP2_WINDOW_UPDATE, 0, 0, std::string("\x00\x00\x00\x01", 4)));
  EXPECT_EQ(sent, 1000);
  EXPECT_EQ(FindGoaway(s.out).code, uint32_t(NGHTTP2_ENHANCE_YOUR_CALM));
}

TEST(H2Session, EmptyDataFloodEndsInGoaway) {
  RawServer s;
  ASSERT_TRUE(s.Feed(Preface() + Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, Block())));
  ASSERT_EQ(s.rec.reqs.count(1), 1u);
  int sent = 0;
  for (; sent < 3000 && s.session.goaway_code() == 0; ++sent) s.Feed(Frame(NGHTTP2_DATA, 0, 1, ""));
  EXPECT_EQ(sent, 1000);
  EXPECT_EQ(FindGoaway(s.out).code, uint32_t(NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_TRUE(s.rec.reqs[1].closed || s.session.Done());
}

TEST(H2Session, ControlFramesAnsweringOurDataAreCredited) {
  RawServer s;
  s.rec.auto_answer = true;
  ASSERT_TRUE(s.Feed(Preface()));
  // 3000 exchanges, each followed by the two WINDOW_UPDATEs a client sends for what it received.
  for (int i = 0; i < 3000; ++i) {
    int32_t id = 2 * i + 1;
    ASSERT_TRUE(s.Feed(Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, id, Block())))
        << s.session.error();
    ASSERT_TRUE(s.Feed(Frame(NGHTTP2_WINDOW_UPDATE, 0, 0, std::string("\x00\x00\x00\x02", 4)) +
                       Frame(NGHTTP2_PING, 0, 0, "12345678")))
        << i << ": " << s.session.error();
  }
  EXPECT_EQ(s.rec.reqs.size(), 3000u);
}

TEST(H2Session, StreamsOpenAtAConnectionErrorAreReportedClosed) {
  RawServer s;
  ASSERT_TRUE(s.Feed(Preface() + Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, Block())));
  ASSERT_EQ(s.rec.reqs.count(1), 1u);
  s.Feed(Frame(NGHTTP2_DATA, 0, 0, "x"));  // DATA on stream 0: nghttp2's own connection error
  EXPECT_EQ(FindGoaway(s.out).code, uint32_t(NGHTTP2_PROTOCOL_ERROR));
  EXPECT_EQ(s.session.goaway_code(), uint32_t(kProtocolError));
  EXPECT_TRUE(s.session.Done());
  EXPECT_TRUE(s.rec.reqs[1].closed);
  EXPECT_EQ(s.rec.reqs[1].close_code, uint32_t(kProtocolError));
}

TEST(H2Session, CloseStreamsReportsEveryOpenStream) {
  Fixture f;
  int32_t a = f.client.Request("GET", "/a");
  int32_t b = f.client.Request("GET", "/b");
  Pump(f.client, f.session);
  ASSERT_EQ(f.session.open_streams(), 2u);
  f.session.CloseStreams();
  EXPECT_EQ(f.session.open_streams(), 0u);
  EXPECT_EQ(f.rec.reqs[a].close_code, uint32_t(kCancel));
  EXPECT_EQ(f.rec.reqs[b].close_code, uint32_t(kCancel));
  EXPECT_FALSE(f.session.SubmitResponse(a, 200, {}, true));
}

// After the peer's GOAWAY with nothing open the connection is over: a HEADERS behind it is not served,
// whether it arrives in the same read (nghttp2 alone would serve it) or the next (nghttp2 ignores it).
TEST(H2Session, NothingIsServedAfterThePeersGoawayWhateverTheReads) {
  std::string goaway = Frame(NGHTTP2_GOAWAY, 0, 0, std::string(8, '\0'));
  std::string headers = Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1, Block());
  RawServer one;
  EXPECT_TRUE(one.Feed(Preface() + goaway + headers));
  RawServer two;
  EXPECT_TRUE(two.Feed(Preface() + goaway));
  EXPECT_TRUE(two.Feed(headers));
  EXPECT_TRUE(one.rec.reqs.empty());
  EXPECT_TRUE(two.rec.reqs.empty());
  EXPECT_TRUE(one.session.Done());
  EXPECT_TRUE(two.session.Done());
}

// The same for a frame nghttp2 would reject by its header alone (longer than SETTINGS_MAX_FRAME_SIZE): it is
// ignored, not a connection error, in one read or two.
TEST(H2Session, AFrameBehindThePeersGoawayIsIgnoredNotJudged) {
  std::string goaway = Frame(NGHTTP2_GOAWAY, 0, 0, std::string(8, '\0'));
  std::string oversized = Frame(NGHTTP2_PING, 0, 0, std::string(20000, 'p'));
  RawServer one;
  EXPECT_TRUE(one.Feed(Preface() + goaway + oversized));
  RawServer two;
  EXPECT_TRUE(two.Feed(Preface() + goaway));
  EXPECT_TRUE(two.Feed(oversized));
  EXPECT_EQ(one.session.goaway_code(), 0u);
  EXPECT_EQ(two.session.goaway_code(), 0u);
  EXPECT_FALSE(FindGoaway(one.out).seen);
}

TEST(H2Session, BadPrefaceIsAConnectionError) {
  RawServer s;
  EXPECT_FALSE(s.Feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_NE(s.session.goaway_code(), 0u);
  EXPECT_TRUE(s.session.Done());
}

TEST(H2Session, OutputIsProducedInBoundedSlices) {
  H2Limits l;
  l.max_output_buffer = 32 * 1024;
  Fixture f(l);
  // Open the client's windows wide so only ESG's bound limits what one PendingOutput() holds.
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (1u << 31) - 1}};
  nghttp2_submit_settings(f.client.s_, NGHTTP2_FLAG_NONE, iv, 1);
  nghttp2_submit_window_update(f.client.s_, NGHTTP2_FLAG_NONE, 0, (1 << 30));
  int32_t id = f.client.Request("GET", "/");
  Pump(f.client, f.session);
  ASSERT_TRUE(f.session.SubmitResponse(id, 200, {}, false));
  ASSERT_TRUE(f.session.SubmitData(id, std::string(1 << 20, 'o'), true));
  size_t biggest = 0;
  for (int i = 0; i < 1000 && !f.client.resps[id].closed; ++i) {
    std::string_view o = f.session.PendingOutput();
    biggest = std::max(biggest, o.size());
    EXPECT_EQ(f.session.WantsRead(), o.size() < l.max_output_buffer);
    std::string copy(o);
    f.session.TakeOutput(copy.size());
    f.client.Input(copy);
    std::string up = f.client.Output();
    f.session.Feed(up.data(), up.size());
  }
  EXPECT_TRUE(f.client.resps[id].closed);
  EXPECT_EQ(f.client.resps[id].body.size(), 1u << 20);
  EXPECT_LE(biggest, l.max_output_buffer + 16384 + 9);
  EXPECT_GE(biggest, l.max_output_buffer);
}

// ============================== shutdown ==============================

TEST(H2Session, GracefulGoawayLetsOpenStreamsFinish) {
  Fixture f;
  int32_t a = f.client.Request("GET", "/a");
  int32_t b = f.client.Request("GET", "/b");
  Pump(f.client, f.session);
  ASSERT_EQ(f.session.open_streams(), 2u);
  f.session.ShutdownNotice();
  Pump(f.client, f.session);
  EXPECT_TRUE(f.client.goaway);
  EXPECT_EQ(f.client.goaway_last, (1u << 31) - 1);
  // A request in flight while the notice travels, sent after the final GOAWAY is decided: not served.
  int32_t c = f.client.Request("GET", "/c");
  f.session.Goaway();
  std::string up = f.client.Output();
  f.session.Feed(up.data(), up.size());
  Pump(f.client, f.session);
  EXPECT_EQ(f.client.goaway_last, b);
  EXPECT_EQ(f.client.goaway_code, 0u);
  EXPECT_EQ(f.rec.reqs.count(c), 0u);
  EXPECT_FALSE(f.session.Done());  // a and b are still open
  for (int32_t id : {a, b}) {
    ASSERT_TRUE(f.session.SubmitResponse(id, 200, {}, false));
    ASSERT_TRUE(f.session.SubmitData(id, "bye", true));
  }
  Pump(f.client, f.session);
  EXPECT_EQ(f.client.resps[a].body, "bye");
  EXPECT_EQ(f.client.resps[b].body, "bye");
  EXPECT_TRUE(f.session.Done());
}

TEST(H2Session, GoawayWithAnExplicitLastStreamId) {
  Fixture f;
  int32_t a = f.client.Request("GET", "/a");
  int32_t b = f.client.Request("GET", "/b");
  Pump(f.client, f.session);
  f.session.Goaway(a, kNoError);
  Pump(f.client, f.session);
  EXPECT_EQ(f.client.goaway_last, a);
  EXPECT_TRUE(f.client.resps[b].closed);  // the client knows b was not processed and may retry it
}

}  // namespace
}  // namespace esg::http2
