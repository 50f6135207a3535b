// H2Session: the server side of one HTTP/2 connection, as the engine sees it. nghttp2 1.52 sits behind it
// (h2_session.cc is the only file that includes nghttp2.h), plus the checks nghttp2 leaves to its user
// (:authority vs Host, CONNECT, header-list bounds: h2_head.h) and ESG's flood defences. See README.md.
//
// Contract (one thread, no locks; nothing here touches a socket):
//   - Feed() consumes bytes read from the peer (the connection preface first) and reports, through
//     H2Handler, per stream: the request head, body chunks, the end of the request, and the close.
//   - The engine answers with SubmitResponse / SubmitData / SubmitTrailers / ResetStream, and opens the
//     receive window with Consume() only as the app consumes the body (flow control tied to receive()).
//   - Bytes to write come from PendingOutput(); after writing n of them call TakeOutput(n). Output is
//     produced lazily, at most ~max_output_buffer at a time, so a peer that does not read costs bounded
//     memory; WantsRead() turns false while that buffer is full.
//   - Close the connection when Done() (after flushing PendingOutput()). Feed() returning false means ESG
//     tore the connection down (a defence tripped or nghttp2 failed fatally; GOAWAY queued, error() says
//     why): flush, then close. A connection error nghttp2 answers itself (a malformed frame) queues its
//     GOAWAY too; Feed() stays true, error()/goaway_code() are set once it is written, and Done() follows.
// Handler callbacks come from Feed(), and OnStreamClose/OnStreamDrained also from PendingOutput() (a stream
// closes when its last frame is written). They may call Submit*/ResetStream/Consume re-entrantly; they must
// not destroy the session.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/http/parser_limits.h"
#include "server/http/request_head.h"
#include "server/http2/h2_head.h"

namespace esg::http2 {

// RFC 9113 §7 error codes ESG uses (values fixed by the RFC).
enum ErrorCode : uint32_t {
  kNoError = 0x0,
  kProtocolError = 0x1,
  kInternalError = 0x2,
  kFlowControlError = 0x3,
  kRefusedStream = 0x7,
  kCancel = 0x8,
  kEnhanceYourCalm = 0xb,
};

// SETTINGS ESG advertises and the bounds of its defences. Defaults are the engine's defaults.
struct H2Limits {
  uint32_t max_concurrent_streams = 100;    // SETTINGS_MAX_CONCURRENT_STREAMS; beyond: REFUSED_STREAM
  uint32_t initial_window_size = 65535;     // per-stream receive window (request bodies)
  uint32_t connection_window_size = 1 << 20;  // connection receive window: bounds unconsumed body bytes
  uint32_t max_frame_size = 16384;          // SETTINGS_MAX_FRAME_SIZE we accept
  // Decoded header list (RFC 9113 §6.5.2: name + value + 32 per field) and field count: beyond, the
  // stream gets a 431. Same meaning as ParserLimits::max_head_size / max_header_count.
  size_t max_header_list_size = 32768;
  size_t max_header_count = 100;
  uint32_t header_table_size = 4096;        // SETTINGS_HEADER_TABLE_SIZE: our HPACK decoder's table
  size_t max_output_buffer = 64 * 1024;     // bytes PendingOutput() holds at most (plus one frame)

  // Rapid reset (CVE-2023-44487): streams that cost work but were reset by the peer, refused or
  // rejected as malformed spend one token; an empty bucket is GOAWAY ENHANCE_YOUR_CALM.
  uint32_t reset_burst = 200;
  uint32_t reset_rate_per_s = 100;
  // Frames that carry no request progress (PING, SETTINGS, WINDOW_UPDATE, PRIORITY, empty DATA,
  // unknown types) spend one token; every HEADERS/DATA frame ESG sends credits two back.
  uint32_t control_burst = 1000;
  uint32_t control_rate_per_s = 100;
  // CONTINUATION flood (CVE-2024-27316): frames and compressed bytes of one header block. Beyond either:
  // GOAWAY ENHANCE_YOUR_CALM before a byte of the excess is decoded.
  size_t max_continuations = 4;
  size_t max_header_block = 0;              // 0: twice max_header_list_size
  // Outbound SETTINGS/PING ACKs queued but not written (nghttp2's own flood guard; in 1.52 it does not
  // count RST_STREAM, whose queue the reset bucket above bounds instead).
  size_t max_outbound_ack = 200;
  size_t max_settings_entries = 32;         // entries in one SETTINGS frame
};

// The --limit-* options carried over from HTTP/1.1: the head-size bound becomes the decoded header-list
// bound (name + value + 32 per field, pseudo-headers included) and the field count stays the field count.
inline H2Limits H2LimitsFrom(const http::ParserLimits& p, H2Limits base = {}) {
  base.max_header_list_size = p.max_head_size;
  base.max_header_count = p.max_header_count;
  return base;
}

class H2Handler {
 public:
  virtual ~H2Handler() = default;
  // A complete, validated request head. `head` is valid until OnStreamClose for this stream.
  virtual void OnStreamHead(int32_t stream_id, StreamHead& head) = 0;
  // A request body chunk. Until Consume(stream_id, n) the bytes keep counting against the peer's window.
  virtual void OnStreamData(int32_t stream_id, std::string_view chunk) = 0;
  // The request is complete (END_STREAM received).
  virtual void OnStreamEnd(int32_t stream_id) = 0;
  // The stream is gone: error_code 0 after a complete exchange, else the reset's code (by either side).
  // Called once for every stream OnStreamHead reported; the id is never used again.
  virtual void OnStreamClose(int32_t stream_id, uint32_t error_code) = 0;
  // The body buffered with SubmitData has all been framed: the app may send more (write watermark).
  virtual void OnStreamDrained(int32_t stream_id) { (void)stream_id; }
};

class H2Session {
 public:
  using Clock = std::function<int64_t()>;  // monotonic milliseconds; defaults to steady_clock

  // Queues ESG's SETTINGS (the server preface). `handler` must outlive the session.
  H2Session(const H2Limits& limits, H2Handler* handler, Clock clock = nullptr);
  ~H2Session();
  H2Session(const H2Session&) = delete;
  H2Session& operator=(const H2Session&) = delete;

  // Consumes all `len` bytes. false: the connection is being torn down (a connection error or a tripped
  // defence queued GOAWAY; see error()); flush PendingOutput() and close. Later calls do nothing.
  bool Feed(const char* data, size_t len);

  // Response side. Each returns false (and does nothing) for an unknown or closed stream, a stream already
  // answered, or a header nghttp2 rejects (see error()); the engine then resets the stream.
  // Header names are lowercased; connection-specific fields (RFC 9113 §8.2.2) are dropped.
  // fields_checked: the caller validated names and values (http::ResponseHead does, more strictly than
  // nghttp2's rules), so only lowercasing and the connection-specific filter run.
  bool SubmitResponse(int32_t stream_id, int status, std::vector<http::Header> headers,
                      bool end_stream, bool fields_checked = false);
  // Queues body bytes (copied); they go out as the peer's windows allow. Buffered(stream_id) says how much
  // is waiting, OnStreamDrained when it reaches zero.
  bool SubmitData(int32_t stream_id, std::string_view data, bool end_stream);
  // Ends the stream with a trailer section after the queued body.
  bool SubmitTrailers(int32_t stream_id, const std::vector<http::Header>& trailers);
  void ResetStream(int32_t stream_id, uint32_t error_code);
  // The app consumed n body bytes of the stream: reopen that much window (stream and connection).
  void Consume(int32_t stream_id, size_t n);
  size_t Buffered(int32_t stream_id) const;

  // Graceful shutdown in two steps (RFC 9113 §6.8): ShutdownNotice() sends GOAWAY with the maximum id so
  // the peer stops opening streams; a round trip later Goaway() sends the real last stream id (the
  // highest processed, or the given one). Open streams up to it finish; Done() once they have.
  void ShutdownNotice();
  void Goaway(uint32_t error_code = kNoError);
  void Goaway(int32_t last_stream_id, uint32_t error_code);

  // The connection is gone (the peer closed, an I/O error, a timeout): reports OnStreamClose(id, error_code)
  // for every stream still open. Call it before destroying the session; the destructor reports nothing.
  // PendingOutput() does the same by itself once a terminated session has written its GOAWAY (the code is
  // then the GOAWAY's).
  void CloseStreams(uint32_t error_code = kCancel);

  // Output: bytes to write, produced on demand (at most ~max_output_buffer). Valid until the next call.
  std::string_view PendingOutput();
  void TakeOutput(size_t n);
  bool WantsRead() const;
  bool WantsWrite() const;
  // Nothing left to read or write: close the connection.
  bool Done() const;

  const std::string& error() const;  // why the connection is torn down (empty while it is healthy)
  uint32_t goaway_code() const;      // the code of the GOAWAY ESG sent for a connection error
  size_t open_streams() const;       // streams reported to the handler and not closed yet

  struct Impl;  // h2_session.cc: the nghttp2 session and the streams

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace esg::http2
