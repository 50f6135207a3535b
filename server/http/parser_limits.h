// ParserLimits: the size limits of the request parser (the --limit-* options), and the chunk-line bound.
// Apart from parser.h so the line scanner (line_scanner.h) that enforces them needs nothing else.
#pragma once

#include <cstddef>
#include <cstdint>

namespace esg::http {

// Every size limit counts raw bytes on the wire, CRLF excluded, and is enforced at the first byte that
// breaks it, before llhttp or the app sees that byte.
struct ParserLimits {
  size_t max_request_line = 8190;   // method SP target SP version; 414 beyond
  size_t max_header_count = 100;    // field lines in the head (and in a trailer section); 431 beyond
  size_t max_header_size = 8190;    // one field line as sent ("name: value", OWS included); 431 beyond
  size_t max_head_size = 32768;     // request line + field lines + their CRLFs (trailer section alike); 431
  int64_t max_body_size = 0;        // 0 = unlimited; 413 beyond
};

// A chunk-size line (size and chunk extensions, which are ignored) longer than this is a 400: nothing
// legitimate needs more (nginx, h2o: a few hundred bytes), and it bounds what a client can send for free.
inline constexpr size_t kMaxChunkLine = 4096;

}  // namespace esg::http
