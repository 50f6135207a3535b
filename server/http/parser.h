// RequestParser: the HTTP/1.x request parser interface of the engine. llhttp 9.4.3 (every lenient flag
// off) sits behind it (llhttp_parser.cc is the only file that includes llhttp.h), plus ESG's limits and the
// HTTP semantics llhttp leaves to its user (framing conflicts, Host, Expect, request-target forms).
//
// Contract: Feed() consumes bytes and reports, through the handler, one request head, its body chunks
// and its end. After each complete message the parser pauses itself, so the engine answers pipelined
// requests strictly in order: call Resume() once the response is done, then Feed() the rest.
// A protocol error stops the parser for good: the connection answers `error().status` and closes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "server/http/parser_limits.h"
#include "server/http/request_head.h"

namespace esg::http {

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // The head is complete and validated. The reference stays valid until the message completes.
  virtual void OnRequestHead(RequestHead& head) = 0;
  virtual void OnRequestBody(std::string_view chunk) = 0;
  virtual void OnRequestComplete() = 0;
};

struct ParseError {
  int status = 0;      // HTTP status to answer (400, 413, 414, 431, 505, ...)
  std::string reason;  // short text for the log and the response body
};

enum class ParseResult { kNeedMore, kPaused, kError };

class RequestParser {
 public:
  virtual ~RequestParser() = default;
  // Consumes up to `len` bytes; *consumed says how many. kPaused: a message completed (bytes after it
  // were not consumed). kError: see error().
  virtual ParseResult Feed(const char* data, size_t len, size_t* consumed) = 0;
  virtual void Resume() = 0;
  // The peer closed its side: a message cut short is an error (only relevant mid-message).
  virtual bool MidMessage() const = 0;
  virtual const ParseError& error() const = 0;
};

std::unique_ptr<RequestParser> MakeRequestParser(const ParserLimits& limits, RequestHandler* handler);

}  // namespace esg::http
