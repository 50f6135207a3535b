// LineScanner::Scan (see line_scanner.h).
#include "server/http/line_scanner.h"

#include <algorithm>
#include <cstring>

namespace esg::http {

void LineScanner::Scan(const char* data, size_t len, uint64_t base) {
  const char* p = data + (std::max(scanned_to_, base) - base);
  const char* end = data + len;
  uint64_t region_limit = kNoLimit;
  if (region_ != Region::kChunkLine && limits_.max_head_size > 0) region_limit = region_start_ + limits_.max_head_size;
  while (p < end) {
    uint64_t pos = base + static_cast<uint64_t>(p - data);
    if (pos == line_start_) {
      if (region_ == Region::kHead && first_line_ && (*p == '\r' || *p == '\n')) {
        // llhttp skips any CR and LF bytes before a request line (RFC 9112 §2.2 asks for at least one
        // empty line): they belong to no line, only to the head's total.
        if (pos >= region_limit) {
          Limit(pos, 431, "Request header block too large");
          return;
        }
        ++line_start_;
        ++p;
        continue;
      }
      line_first_ = *p;
      // One more field line than allowed: its first byte is the offending one (the empty line that ends
      // the section starts with CR).
      bool field_line = region_ == Region::kTrailers || (region_ == Region::kHead && !first_line_);
      if (field_line && lines_ >= limits_.max_header_count && *p != '\r' && *p != '\n') {
        Limit(pos, 431, "Too many header fields");
        return;
      }
    }
    const char* lf = static_cast<const char*>(memchr(p, '\n', static_cast<size_t>(end - p)));
    uint64_t stop = base + static_cast<uint64_t>((lf ? lf : end) - data);  // LF position, or end of data
    // A line may hold LineLimit() bytes plus the CR of its CRLF; any further byte but the LF breaks it.
    uint64_t line_limit = line_start_ + LineLimit() + 1;
    uint64_t first_bad = kNoLimit;
    int status = 0;
    const char* reason = nullptr;
    if (line_limit < stop) {
      first_bad = line_limit;
      status = region_ == Region::kChunkLine ? 400 : (region_ == Region::kHead && first_line_) ? 414 : 431;
      reason = region_ == Region::kChunkLine ? "Chunk-size line too long"
               : status == 414               ? "Request-line too long"
                                             : "Header field too large";
    }
    if (region_limit <= stop && region_limit < first_bad && (lf || region_limit < stop)) {
      first_bad = region_limit;
      status = 431;
      reason = region_ == Region::kTrailers ? "Trailer section too large" : "Request header block too large";
    }
    if (region_ == Region::kHead && first_line_) {
      // RFC 9112 §3: the parts of the request line are separated by exactly one SP; llhttp skips
      // several. The second SP of a pair is the offending byte (if it comes before any other).
      const char* line_end = lf ? lf : end;
      if (first_bad != kNoLimit) line_end = std::min(line_end, data + (first_bad - base));
      for (const char* q = p; q < line_end; ++q) {
        q = static_cast<const char*>(memchr(q, ' ', static_cast<size_t>(line_end - q)));
        if (!q) break;
        if (q == p && last_sp_) {
          Limit(base + static_cast<uint64_t>(q - data), 400, "Invalid request line");
          return;
        }
        if (q + 1 < line_end && q[1] == ' ') {
          Limit(base + static_cast<uint64_t>(q + 1 - data), 400, "Invalid request line");
          return;
        }
      }
      last_sp_ = line_end > p && line_end[-1] == ' ';
    }
    if (first_bad != kNoLimit) {
      Limit(first_bad, status, reason);
      return;
    }
    if (!lf) {
      scanned_to_ = base + len;
      return;
    }
    uint64_t line_len = stop - line_start_;
    bool empty = line_len == 0 || (line_len == 1 && line_first_ == '\r');
    line_start_ = stop + 1;
    p = lf + 1;
    if (region_ == Region::kChunkLine) {
      done_ = true;
      return;
    }
    if (empty) {
      done_ = true;
      return;
    }
    if (region_ == Region::kHead && first_line_) {
      first_line_ = false;
    } else {
      ++lines_;
    }
  }
  scanned_to_ = base + len;
}

}  // namespace esg::http
