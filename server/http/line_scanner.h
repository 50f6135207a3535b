// LineScanner: ESG's size limits on the line-oriented regions of a request stream (the request head, a
// chunk-size line, a trailer section), checked on raw stream positions before llhttp sees a byte. It
// finds the first byte that breaks a limit (414, 431, 400 for a long chunk line or two spaces in the
// request line), so the error is the same however the stream is split into reads. Used by the llhttp
// RequestParser (llhttp_parser.cc), which starts a region each time it pauses llhttp at a region's start.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

#include "server/http/parser_limits.h"

namespace esg::http {

// Tracks the lines of the current line-oriented region of the stream (a request head, a chunk-size
// line, a trailer section) by raw byte position and finds the first byte that breaks a limit. The parser
// never hands that byte to llhttp: it fails there, whatever the split of the stream into reads.
class LineScanner {
 public:
  static constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

  enum class Region { kNone, kHead, kChunkLine, kTrailers };

  explicit LineScanner(const ParserLimits& limits) : limits_(limits) {}

  Region region() const { return region_; }

  // A new region starts at stream position `pos` (the parser paused exactly there).
  void Start(Region region, uint64_t pos) {
    region_ = region;
    done_ = false;
    region_start_ = pos;
    line_start_ = pos;
    scanned_to_ = pos;
    lines_ = 0;
    first_line_ = region == Region::kHead;
    last_sp_ = false;
    limit_pos_ = kNoLimit;
  }

  // data[0..len) starts at stream position `base`. Returns how many of those bytes may be parsed before
  // the first byte that breaks a limit (len when none does); status()/reason() then say which limit.
  size_t Allowed(const char* data, size_t len, uint64_t base) {
    if (region_ == Region::kNone) return len;
    if (!done_ && limit_pos_ == kNoLimit && scanned_to_ < base + len) Scan(data, len, base);
    if (limit_pos_ == kNoLimit || limit_pos_ >= base + len) return len;
    return static_cast<size_t>(limit_pos_ - base);
  }

  int status() const { return status_; }
  const char* reason() const { return reason_; }

 private:
  size_t LineLimit() const {
    switch (region_) {
      case Region::kHead: return first_line_ ? limits_.max_request_line : limits_.max_header_size;
      case Region::kChunkLine: return kMaxChunkLine;
      default: return limits_.max_header_size;
    }
  }

  void Limit(uint64_t pos, int status, const char* reason) {
    limit_pos_ = pos;
    status_ = status;
    reason_ = reason;
  }

  // Scans data[0..len) (starting at stream position `base`) from where the last scan stopped, up to the
  // first byte that breaks a limit or the end of the region's last line.
  void Scan(const char* data, size_t len, uint64_t base);

  const ParserLimits& limits_;
  Region region_ = Region::kNone;
  bool done_ = false;         // the region's last line ended: nothing more to check until the next region
  bool first_line_ = false;   // kHead: the request line has not ended yet
  char line_first_ = 0;       // first byte of the current line
  bool last_sp_ = false;      // the request line scanned so far ends with SP
  uint64_t region_start_ = 0;
  uint64_t line_start_ = 0;
  uint64_t scanned_to_ = 0;
  size_t lines_ = 0;          // field lines ended in this region
  uint64_t limit_pos_ = kNoLimit;
  int status_ = 0;
  const char* reason_ = nullptr;
};

}  // namespace esg::http
