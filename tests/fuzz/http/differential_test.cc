// Differential check of the request parser against raw llhttp 9.4.3 (every lenient flag off, plain
// callbacks, no ESG checks): every file of the request_parser and chunked_body corpora goes through both,
// fed whole, and each disagreement (one accepts what the other rejects, or they deliver different
// messages) must belong to one of the explained classes below. Run as a cc_test it fails on an unexplained
// disagreement; run by hand (bazel run ... -- -v) it prints every disagreement with its class.
#include <llhttp.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "server/http/parser.h"

namespace {

struct Message {
  std::string method, body;
  bool complete = false;
};

struct Outcome {
  std::vector<Message> messages;
  bool rejected = false;
  int status = 0;           // ESG only
  std::string reason;       // ESG's reason, or llhttp's error name
  bool upgraded = false;    // llhttp only: stopped at an Upgrade/CONNECT (the stream is no longer HTTP)
};

// ---- ESG
struct EsgRecorder : esg::http::RequestHandler {
  Outcome* out;
  void OnRequestHead(esg::http::RequestHead& h) override { out->messages.push_back({h.method, "", false}); }
  void OnRequestBody(std::string_view c) override { out->messages.back().body.append(c); }
  void OnRequestComplete() override { out->messages.back().complete = true; }
};

Outcome RunEsg(std::string input) {
  Outcome out;
  EsgRecorder rec;
  rec.out = &out;
  auto parser = esg::http::MakeRequestParser({}, &rec);
  size_t pos = 0;
  while (pos < input.size()) {
    size_t consumed = 0;
    auto r = parser->Feed(input.data() + pos, input.size() - pos, &consumed);
    pos += consumed;
    if (r == esg::http::ParseResult::kError) {
      out.rejected = true;
      out.status = parser->error().status;
      out.reason = parser->error().reason;
      break;
    }
    if (r == esg::http::ParseResult::kPaused) parser->Resume();
  }
  return out;
}

// ---- raw llhttp
Outcome* g_ll = nullptr;
std::string g_method;
int LlMethod(llhttp_t*, const char* at, size_t len) {
  g_method.append(at, len);
  return 0;
}
int LlHeaders(llhttp_t*) {
  g_ll->messages.push_back({g_method, "", false});
  g_method.clear();
  return 0;
}
int LlBody(llhttp_t*, const char* at, size_t len) {
  g_ll->messages.back().body.append(at, len);
  return 0;
}
int LlComplete(llhttp_t*) {
  g_ll->messages.back().complete = true;
  return 0;
}
int LlBegin(llhttp_t*) {
  g_method.clear();
  return 0;
}

Outcome RunLlhttp(const std::string& input) {
  Outcome out;
  g_ll = &out;
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  s.on_message_begin = LlBegin;
  s.on_method = LlMethod;
  s.on_headers_complete = LlHeaders;
  s.on_body = LlBody;
  s.on_message_complete = LlComplete;
  llhttp_t p;
  llhttp_init(&p, HTTP_REQUEST, &s);
  llhttp_errno_t err = llhttp_execute(&p, input.data(), input.size());
  if (err == HPE_PAUSED_UPGRADE) {
    out.upgraded = true;
  } else if (err != HPE_OK) {
    out.rejected = true;
    out.reason = llhttp_errno_name(err);
  }
  g_ll = nullptr;
  return out;
}

// ---- classes of disagreement, each explained
struct Class {
  const char* name;
  const char* why;
};

const std::map<std::string, Class>& EsgOnlyRejections() {
  // ESG's error reason -> why ESG rejects what llhttp (syntax only) accepts.
  static const std::map<std::string, Class> m = {
      {"Missing Host header", {"host", "RFC 9112 §3.2: an HTTP/1.1 request without exactly one Host is a 400"}},
      {"Repeated Host header", {"host", "RFC 9112 §3.2: an HTTP/1.1 request without exactly one Host is a 400"}},
      {"Invalid Host header", {"host", "RFC 9112 §3.2: an invalid Host value is a 400"}},
      {"Invalid Content-Length", {"framing", "llhttp accepts an empty Content-Length value; ESG does not"}},
      {"Conflicting Content-Length", {"framing", "RFC 9112 §6.3: conflicting lengths are unrecoverable"}},
      {"Both Content-Length and Transfer-Encoding", {"framing", "request smuggling (RFC 9112 §6.1)"}},
      {"Unsupported Transfer-Encoding", {"framing", "501: ESG decodes chunked only (RFC 9112 §6.1); llhttp hands any final-chunked coding list through"}},
      {"Repeated Transfer-Encoding", {"framing", "two Transfer-Encoding fields: ESG takes no coding list apart"}},
      {"Transfer-Encoding in HTTP/1.0", {"framing", "RFC 9112 §6.1: chunked framing in HTTP/1.0 is faulty"}},
      {"HTTP Version Not Supported", {"version", "505: llhttp parses HTTP/0.9 and 2.0 request lines; ESG serves 1.0/1.1"}},
      {"HTTP/2 connection preface", {"version", "the h2 preface: llhttp pauses (PAUSED_H2_UPGRADE), ESG answers 400"}},
      {"CONNECT is not supported", {"target", "501: ESG is no proxy; llhttp parses CONNECT and stops (upgrade)"}},
      {"Asterisk-form target without OPTIONS", {"target", "RFC 9112 §3.2.4: * only with OPTIONS"}},
      {"Invalid request target", {"target", "RFC 9112 §3.2: origin-, absolute- or asterisk-form only"}},
      {"Unsupported scheme in request target", {"target", "absolute-form must be http(s)"}},
      {"Empty authority in request target", {"target", "absolute-form needs an authority"}},
      {"Invalid authority in request target", {"target", "absolute-form authority characters"}},
      {"Expectation Failed", {"expect", "417 for an Expect other than 100-continue (RFC 9110 §10.1.1)"}},
      {"Invalid request line", {"request-line", "RFC 9112 §3: one SP between the parts; llhttp skips several"}},
      {"Request-line too long", {"limit", "--limit-request-line (llhttp has no limits)"}},
      {"Header field too large", {"limit", "--limit-request-field-size (llhttp has no limits)"}},
      {"Too many header fields", {"limit", "--limit-request-fields (llhttp has no limits)"}},
      {"Request header block too large", {"limit", "--limit-request-head-size (llhttp has no limits)"}},
      {"Trailer section too large", {"limit", "--limit-request-head-size on trailers (llhttp has no limits)"}},
      {"Chunk-size line too long", {"limit", "kMaxChunkLine: chunk extensions are bounded (llhttp has no limit)"}},
      {"Request body too large", {"limit", "--limit-request-body"}},
  };
  return m;
}

// Returns the class of a disagreement, or "" when it is not explained.
bool SameMessages(const Outcome& esg, const Outcome& ll, size_t n) {
  if (esg.messages.size() < n || ll.messages.size() < n) return false;
  for (size_t i = 0; i < n; ++i) {
    if (esg.messages[i].method != ll.messages[i].method || esg.messages[i].body != ll.messages[i].body ||
        esg.messages[i].complete != ll.messages[i].complete) {
      return false;
    }
  }
  return true;
}

std::string Classify(const std::string& input, const Outcome& esg, const Outcome& ll) {
  // llhttp stops at a request with Upgrade (or CONNECT): the rest of the stream is not HTTP for it. ESG's
  // parser keeps parsing HTTP (the engine, not the parser, takes a connection over), so only the messages
  // up to the upgrade compare.
  if (ll.upgraded && !ll.messages.empty() && SameMessages(esg, ll, ll.messages.size())) return "upgrade";
  if (esg.rejected && !ll.rejected) {
    auto it = EsgOnlyRejections().find(esg.reason);
    if (it != EsgOnlyRejections().end()) return it->second.name;
    if (esg.status == 501 && ll.upgraded) return "target";  // CONNECT
    return "";
  }
  if (!esg.rejected && ll.rejected) {
    // llhttp 9.4.3 rejects "chunked" + HTAB before CRLF (OWS, RFC 9110 §5.5); ESG turns the tab into a
    // space. With the tabs of the Transfer-Encoding line made spaces, llhttp must agree.
    std::string fixed = input;
    size_t te = 0;
    while ((te = fixed.find("ransfer-", te)) != std::string::npos) {
      for (size_t i = te; i < fixed.size() && fixed[i] != '\r' && fixed[i] != '\n'; ++i) {
        if (fixed[i] == '\t') fixed[i] = ' ';
      }
      ++te;
    }
    Outcome again = RunLlhttp(fixed);
    if (!again.rejected) return "te-htab-ows";
    // A method llhttp does not know: llhttp rejects at once; ESG reads the rest of the request line to
    // answer 501 (well-formed) or 400, so an input that ends inside that line is still undecided. With the
    // line ended, ESG must reject too.
    if (ll.reason == "HPE_INVALID_METHOD" && SameMessages(esg, ll, ll.messages.size())) {
      Outcome ended = RunEsg(input + "\r\n");
      if (ended.rejected) return "unknown-method-undecided";
    }
    return "";
  }
  if (esg.rejected && ll.rejected) {
    // Both reject; ESG may see a bound first (its limits apply before llhttp's syntax), or answer an
    // unknown but well-formed method with 501 where llhttp reports HPE_INVALID_METHOD. No disagreement.
    return "agree";
  }
  // Both accept: messages must match up to where llhttp stops at an Upgrade (ESG keeps parsing HTTP: the
  // engine, not the parser, takes a connection over).
  size_t n = std::min(esg.messages.size(), ll.messages.size());
  for (size_t i = 0; i < n; ++i) {
    if (esg.messages[i].method != ll.messages[i].method || esg.messages[i].body != ll.messages[i].body ||
        esg.messages[i].complete != ll.messages[i].complete) {
      return "";
    }
  }
  if (esg.messages.size() == ll.messages.size()) return "agree";
  if (ll.upgraded && esg.messages.size() > ll.messages.size()) return "upgrade";
  return "";
}

std::string Escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s.substr(0, 160)) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else if (c < 0x20 || c >= 0x7f) {
      char b[8];
      snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else out += static_cast<char>(c);
  }
  return out + (s.size() > 160 ? "..." : "");
}

}  // namespace

int main(int argc, char** argv) {
  bool verbose = argc > 1 && std::string(argv[1]) == "-v";
  const char* srcdir = getenv("TEST_SRCDIR");
  std::string base = srcdir ? std::string(srcdir) + "/esg/" : "";
  std::map<std::string, int> counts;
  int unexplained = 0, total = 0;
  for (const char* corpus : {"tests/fuzz/http/corpus/request_parser", "tests/fuzz/http/corpus/chunked_body"}) {
    bool chunked = std::strstr(corpus, "chunked") != nullptr;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(base + corpus, ec)) {
      std::ifstream f(entry.path(), std::ios::binary);
      std::stringstream ss;
      ss << f.rdbuf();
      std::string input = ss.str();
      if (chunked) input = "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + input;
      Outcome esg = RunEsg(input);
      Outcome ll = RunLlhttp(input);
      std::string cls = Classify(input, esg, ll);
      ++total;
      ++counts[cls.empty() ? "UNEXPLAINED" : cls];
      if (cls.empty()) ++unexplained;
      if (cls.empty() || (verbose && cls != "agree")) {
        printf("%s: %s\n  esg: %s %d %s, %zu messages\n  llhttp: %s %s, %zu messages\n  input: %s\n",
               cls.empty() ? "UNEXPLAINED" : cls.c_str(), entry.path().filename().c_str(),
               esg.rejected ? "rejects" : "accepts", esg.status, esg.reason.c_str(), esg.messages.size(),
               ll.rejected ? "rejects" : (ll.upgraded ? "upgrades" : "accepts"), ll.reason.c_str(),
               ll.messages.size(), Escape(input).c_str());
      }
    }
  }
  printf("%d inputs:", total);
  for (const auto& [k, v] : counts) printf(" %s=%d", k.c_str(), v);
  printf("\n");
  if (total == 0) {
    printf("no corpus found\n");
    return 1;
  }
  return unexplained == 0 ? 0 : 1;
}
