// H2Session over nghttp2 1.52: the callbacks that turn nghttp2's events into H2Handler calls, the flood
// defences, the data provider and the lazily produced output. The request head's own checks are in
// h2_head.cc. The only file of ESG that includes nghttp2.h.
#include "server/http2/h2_session.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <unordered_map>

#include "server/http2/token_bucket.h"

// Debian backported these two to 1.52 (1.52.0-1+deb12u1/u2: CVE-2023-44487, CVE-2024-28182); a plain 1.52.0
// lacks them. Weak references keep ESG linking and running against either: null when absent.
#pragma weak nghttp2_option_set_stream_reset_rate_limit
#pragma weak nghttp2_option_set_max_continuations

namespace esg::http2 {
namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// RFC 9113 §8.2.2: fields HTTP/2 forbids; an app written for HTTP/1.1 may still set them, so they are
// dropped from responses rather than failing the exchange.
bool ConnectionSpecific(std::string_view name) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade" || name == "te";
}

nghttp2_nv MakeNv(std::string_view name, std::string_view value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

// One request/response exchange. Owned by Impl::streams from HEADERS until nghttp2 closes the stream.
struct Stream {
  Stream(int32_t i, const H2Limits& l) : id(i), builder(l.max_header_list_size, l.max_header_count) {}
  int32_t id;
  StreamHead head;
  H2HeadBuilder builder;     // the request head (and the bounds of a trailer section)
  bool reported = false;     // OnStreamHead was called
  size_t unconsumed = 0;     // body bytes reported but not Consume()d
  // Response side.
  bool answered = false;     // response HEADERS submitted
  bool eof = false;          // no more body will be queued
  bool deferred = false;     // the data provider said NGHTTP2_ERR_DEFERRED
  std::string send_buf;
  size_t send_off = 0;
  bool has_trailers = false;
  std::vector<http::Header> trailers;
};

}  // namespace

struct H2Session::Impl {
  Impl(const H2Limits& l, H2Handler* h, Clock c)
      : limits(l),
        handler(h),
        clock(c ? std::move(c) : Clock(SteadyMs)),
        resets(l.reset_burst, l.reset_rate_per_s),
        control(l.control_burst, l.control_rate_per_s) {
    if (limits.max_header_block == 0) limits.max_header_block = 2 * limits.max_header_list_size;
  }

  H2Limits limits;
  H2Handler* handler;
  Clock clock;
  nghttp2_session* session = nullptr;
  std::unordered_map<int32_t, std::unique_ptr<Stream>> streams;
  TokenBucket resets;
  TokenBucket control;
  size_t block_bytes = 0;      // compressed bytes of the header block being received
  size_t continuations = 0;    // its CONTINUATION frames
  std::string out;
  size_t out_off = 0;
  std::vector<int32_t> drained;
  bool fatal = false;
  bool send_failed = false;  // nghttp2_session_mem_send failed: nothing more can be written
  bool input_over = false;   // nghttp2 wants no more input: the rest is ignored (not an error)
  // Frame boundaries of the input (Feed hands nghttp2 at most one frame per call).
  size_t preface_left = 24;  // bytes of the client preface still to come
  size_t frame_left = 0;     // bytes of the current frame's payload still to come
  uint8_t head[9];           // the frame header being received
  size_t head_have = 0;
  std::string error;
  uint32_t goaway_code = kNoError;

  Stream* Find(int32_t id) {
    auto it = streams.find(id);
    return it == streams.end() ? nullptr : it->second.get();
  }

  // A defence tripped or nghttp2 failed: GOAWAY with `code`, read nothing more.
  int Trip(uint32_t code, std::string reason) {
    if (!fatal) {
      fatal = true;
      error = std::move(reason);
      goaway_code = code;
      nghttp2_session_terminate_session(session, code);
    }
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }

  // Reports every stream still open as closed with `code` (nghttp2 calls no stream-close callback for
  // the streams of a session that terminated, nor from nghttp2_session_del).
  void CloseAll(uint32_t code) {
    std::vector<int32_t> ids;
    for (const auto& kv : streams) ids.push_back(kv.first);
    std::sort(ids.begin(), ids.end());
    for (int32_t id : ids) {
      auto it = streams.find(id);
      if (it == streams.end()) continue;
      std::unique_ptr<Stream> s = std::move(it->second);
      streams.erase(it);
      if (s->reported) handler->OnStreamClose(id, code);
    }
  }

  // A stream that cost the server work without an exchange (rapid reset's signature).
  int SpendReset(const char* what) {
    if (resets.Take(clock())) return 0;
    return Trip(kEnhanceYourCalm, std::string("too many reset or refused streams (") + what + ")");
  }

  void RespondLocally(Stream* s, int status, std::string_view body) {
    s->answered = true;
    s->eof = true;
    if (s->head.head.method == "HEAD") body = {};  // the length is announced, no content follows
    s->send_buf.assign(body.data(), body.size());
    std::string st = std::to_string(status);
    std::string len = std::to_string(body.size());
    nghttp2_nv nva[] = {MakeNv(":status", st), MakeNv("content-type", "text/plain; charset=utf-8"),
                        MakeNv("content-length", len)};
    nghttp2_data_provider prd;
    prd.source.ptr = nullptr;
    prd.read_callback = ReadBody;
    nghttp2_submit_response(session, s->id, nva, 3, body.empty() ? nullptr : &prd);
  }

  // The request head is complete: ESG's checks (H2HeadBuilder), then the handler.
  int FinishHead(Stream* s, bool end_stream) {
    switch (s->builder.Finish(&s->head)) {
      case H2HeadBuilder::Verdict::kTooLarge:
        RespondLocally(s, 431, "Request header fields too large\n");
        return 0;
      case H2HeadBuilder::Verdict::kConnect:
        RespondLocally(s, 501, "CONNECT is not supported\n");
        return 0;
      case H2HeadBuilder::Verdict::kMalformed:
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, kProtocolError);
        return SpendReset("malformed request");
      case H2HeadBuilder::Verdict::kOk:
        break;
    }
    s->reported = true;
    handler->OnStreamHead(s->id, s->head);
    if (end_stream && Find(s->id) == s) handler->OnStreamEnd(s->id);
    return 0;
  }

  // --- nghttp2 callbacks (user_data is the Impl) ---

  static int OnBeginFrame(nghttp2_session*, const nghttp2_frame_hd* hd, void* ud) {
    Impl* self = static_cast<Impl*>(ud);
    if (self->fatal) return NGHTTP2_ERR_CALLBACK_FAILURE;
    switch (hd->type) {
      case NGHTTP2_HEADERS:
        self->block_bytes = hd->length;
        self->continuations = 0;
        break;
      case NGHTTP2_CONTINUATION:
        self->block_bytes += hd->length;
        if (++self->continuations > self->limits.max_continuations)
          return self->Trip(kEnhanceYourCalm, "too many CONTINUATION frames in one header block");
        break;
      case NGHTTP2_DATA:
        if (hd->length == 0 && !(hd->flags & NGHTTP2_FLAG_END_STREAM) && !self->control.Take(self->clock()))
          return self->Trip(kEnhanceYourCalm, "flood of empty DATA frames");
        return 0;
      case NGHTTP2_RST_STREAM:
      case NGHTTP2_GOAWAY:
        return 0;  // RST_STREAM has its own bucket (OnFrameRecv)
      default:    // SETTINGS, PING, WINDOW_UPDATE, PRIORITY, PUSH_PROMISE, unknown types
        if ((hd->type == NGHTTP2_SETTINGS || hd->type == NGHTTP2_PING) && (hd->flags & NGHTTP2_FLAG_ACK))
          return 0;  // answers to our own frames
        if (!self->control.Take(self->clock()))
          return self->Trip(kEnhanceYourCalm, "flood of control frames");
        return 0;
    }
    if (self->block_bytes > self->limits.max_header_block)
      return self->Trip(kEnhanceYourCalm, "header block larger than the bound");
    return 0;
  }

  static int OnBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* ud) {
    Impl* self = static_cast<Impl*>(ud);
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    int32_t id = frame->hd.stream_id;
    Stream* s = self->Find(id);
    if (frame->headers.cat == NGHTTP2_HCAT_REQUEST && s == nullptr) {
      auto owned = std::make_unique<Stream>(id, self->limits);
      s = owned.get();
      self->streams.emplace(id, std::move(owned));
    }
    (void)session;
    if (s != nullptr) s->builder.StartBlock();  // the trailer section is bounded afresh too
    return 0;
  }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t, void* ud) {
    Impl* self = static_cast<Impl*>(ud);
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    Stream* s = self->Find(frame->hd.stream_id);
    if (s == nullptr) return 0;
    std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (frame->headers.cat == NGHTTP2_HCAT_REQUEST)
      s->builder.AddField(n, v, &s->head);
    else
      s->builder.CountField(n, v);  // request trailers: bounded, not kept
    return 0;
  }

  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
    Impl* self = static_cast<Impl*>(ud);
    int32_t id = frame->hd.stream_id;
    bool end_stream = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS: {
        Stream* s = self->Find(id);
        if (s == nullptr) return 0;
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) return self->FinishHead(s, end_stream);
        if (s->builder.too_large()) {  // an oversized trailer section
          nghttp2_submit_rst_stream(self->session, NGHTTP2_FLAG_NONE, id, kEnhanceYourCalm);
          return self->SpendReset("oversized trailers");
        }
        if (end_stream && s->reported) self->handler->OnStreamEnd(id);
        return 0;
      }
      case NGHTTP2_DATA: {
        Stream* s = self->Find(id);
        if (end_stream && s != nullptr && s->reported) self->handler->OnStreamEnd(id);
        return 0;
      }
      case NGHTTP2_RST_STREAM:
        return self->SpendReset("RST_STREAM");
      default:
        return 0;
    }
  }

  static int OnInvalidFrameRecv(nghttp2_session*, const nghttp2_frame* frame, int, void* ud) {
    Impl* self = static_cast<Impl*>(ud);
    // Refused (over max concurrent streams) or malformed HEADERS: the stream cost work for nothing.
    if (frame->hd.type == NGHTTP2_HEADERS) return self->SpendReset("refused or malformed HEADERS");
    return 0;
  }

  static int OnDataChunk(nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data, size_t len,
                         void* ud) {
    Impl* self = static_cast<Impl*>(ud);
    Stream* s = self->Find(id);
    if (s == nullptr || !s->reported) {  // answered locally (431/501): nobody will consume it
      nghttp2_session_consume(session, id, len);
      return 0;
    }
    s->unconsumed += len;
    self->handler->OnStreamData(id, std::string_view(reinterpret_cast<const char*>(data), len));
    return 0;
  }

  static int OnStreamClose(nghttp2_session* session, int32_t id, uint32_t error_code, void* ud) {
    Impl* self = static_cast<Impl*>(ud);
    auto it = self->streams.find(id);
    if (it == self->streams.end()) return 0;
    std::unique_ptr<Stream> s = std::move(it->second);
    self->streams.erase(it);
    // Body bytes the app will never consume now: give them back to the connection window.
    if (s->unconsumed > 0) nghttp2_session_consume_connection(session, s->unconsumed);
    if (s->reported) self->handler->OnStreamClose(id, error_code);
    return 0;
  }

  static int OnFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
    Impl* self = static_cast<Impl*>(ud);
    if (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) {
      self->control.Credit(2);  // room for the WINDOW_UPDATEs a well-behaved peer answers with
    } else if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != kNoError && !self->fatal) {
      // nghttp2 found a connection error itself (its text rides in the GOAWAY's debug data).
      self->goaway_code = frame->goaway.error_code;
      self->error.assign(reinterpret_cast<const char*>(frame->goaway.opaque_data),
                         frame->goaway.opaque_data_len);
      if (self->error.empty()) self->error = "HTTP/2 connection error";
    }
    return 0;
  }

  static ssize_t ReadBody(nghttp2_session* session, int32_t id, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source*, void* ud) {
    Impl* self = static_cast<Impl*>(ud);
    Stream* s = self->Find(id);
    if (s == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    size_t avail = s->send_buf.size() - s->send_off;
    if (avail == 0 && !s->eof) {
      s->deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    size_t n = std::min(length, avail);
    if (n > 0) std::memcpy(buf, s->send_buf.data() + s->send_off, n);
    s->send_off += n;
    if (s->send_off == s->send_buf.size()) {
      s->send_buf.clear();
      s->send_off = 0;
      if (s->eof) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        if (s->has_trailers) {
          *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
          std::vector<nghttp2_nv> nva;
          for (const http::Header& t : s->trailers) nva.push_back(MakeNv(t.name, t.value));
          nghttp2_submit_trailer(session, id, nva.data(), nva.size());
        }
      } else if (n > 0 && s->reported) {
        self->drained.push_back(id);
      }
    } else if (s->send_off > 64 * 1024) {
      s->send_buf.erase(0, s->send_off);
      s->send_off = 0;
    }
    return static_cast<ssize_t>(n);
  }

  // Lowercased, connection-specific fields dropped, each checked by nghttp2's rules; false on a bad one.
  // In place: the names are usually lowercase already, and nothing is copied.
  // `checked`: the fields were validated already (http::ResponseHead: token names, no CR/LF/NUL or other
  // controls in values, which is stricter than nghttp2's rules): only lowercased and filtered.
  bool Clean(std::vector<http::Header>* fields, bool checked = false) {
    size_t keep = 0;
    for (size_t i = 0; i < fields->size(); ++i) {
      http::Header& f = (*fields)[i];
      for (char& c : f.name) if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (ConnectionSpecific(f.name)) continue;
      if (f.name.empty() || f.name[0] == ':' ||
          (!checked && (!nghttp2_check_header_name(reinterpret_cast<const uint8_t*>(f.name.data()), f.name.size()) ||
                        !nghttp2_check_header_value(reinterpret_cast<const uint8_t*>(f.value.data()), f.value.size())))) {
        error = "invalid response header field: " + f.name.substr(0, 64);
        return false;
      }
      if (keep != i) (*fields)[keep] = std::move(f);
      ++keep;
    }
    fields->resize(keep);
    return true;
  }
};

H2Session::H2Session(const H2Limits& limits, H2Handler* handler, Clock clock)
    : impl_(std::make_unique<Impl>(limits, handler, std::move(clock))) {
  const H2Limits& l = impl_->limits;
  nghttp2_session_callbacks* cb = nullptr;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_begin_frame_callback(cb, Impl::OnBeginFrame);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, Impl::OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cb, Impl::OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, Impl::OnFrameRecv);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, Impl::OnInvalidFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, Impl::OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, Impl::OnStreamClose);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, Impl::OnFrameSend);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  nghttp2_option_set_no_auto_window_update(opt, 1);  // windows open only through Consume()
  nghttp2_option_set_max_outbound_ack(opt, l.max_outbound_ack);
  nghttp2_option_set_max_settings(opt, l.max_settings_entries);
  nghttp2_option_set_no_closed_streams(opt, 1);
  // ESG's own limits decide (README.md): nghttp2's rapid-reset limiter answers INTERNAL_ERROR on wall-clock
  // time, and its CONTINUATION count in these builds counts reads of a frame header, not frames (a header
  // trickled in byte by byte counts nine; fixed upstream in 2026 by "Count CONTINUATIONS per its frame
  // header"), so a legitimate block split across many reads would be cut. Both are set out of the way.
  if (&nghttp2_option_set_stream_reset_rate_limit != nullptr)
    nghttp2_option_set_stream_reset_rate_limit(opt, uint64_t{1} << 40, uint64_t{1} << 40);
  if (&nghttp2_option_set_max_continuations != nullptr)
    nghttp2_option_set_max_continuations(opt, (l.max_continuations + 1) * 9);
  nghttp2_session_server_new2(&impl_->session, cb, impl_.get(), opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);

  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, l.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, l.initial_window_size},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, l.max_frame_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(l.max_header_list_size)},
      {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, l.header_table_size},
      {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
  };
  nghttp2_submit_settings(impl_->session, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0]));
  if (l.connection_window_size > 65535)
    nghttp2_session_set_local_window_size(impl_->session, NGHTTP2_FLAG_NONE, 0,
                                          static_cast<int32_t>(l.connection_window_size));
}

H2Session::~H2Session() {
  // nghttp2 calls no stream-close callbacks from session_del, and neither does this: see CloseStreams().
  nghttp2_session_del(impl_->session);
}

bool H2Session::Feed(const char* data, size_t len) {
  Impl& m = *impl_;
  // nghttp2 1.52 ignores input once it wants no more (GOAWAY exchanged and no stream open) but checks only
  // when a mem_recv call starts, so frames later in the same buffer would still be processed — what is
  // served would depend on how the bytes were split into reads. Handing it one frame at most per call,
  // the check happens at every frame boundary, whatever the reads.
  const uint8_t* p = reinterpret_cast<const uint8_t*>(data);
  while (len > 0 && !m.fatal && !m.input_over) {
    size_t n;
    if (m.preface_left > 0) {
      n = std::min(len, m.preface_left);
      m.preface_left -= n;
    } else if (m.head_have < 9) {
      if (m.head_have == 0 && nghttp2_session_want_read(m.session) == 0) {
        m.input_over = true;
        break;
      }
      n = std::min(len, 9 - m.head_have);
      std::memcpy(m.head + m.head_have, p, n);
      m.head_have += n;
      if (m.head_have == 9) {
        m.frame_left = (size_t{m.head[0]} << 16) | (size_t{m.head[1]} << 8) | m.head[2];
        if (m.frame_left == 0) m.head_have = 0;
      }
    } else {
      n = std::min(len, m.frame_left);
      m.frame_left -= n;
      if (m.frame_left == 0) m.head_have = 0;
    }
    ssize_t rv = nghttp2_session_mem_recv(m.session, p, n);
    if (rv < 0 && !m.fatal) {
      // A fatal error nghttp2 found itself: flooded outbound ACK queue, too many CONTINUATIONs (Debian's
      // backport, -905), a bad client preface, or out of memory.
      uint32_t code = (rv == NGHTTP2_ERR_FLOODED || rv == -905) ? kEnhanceYourCalm : kProtocolError;
      m.Trip(code, nghttp2_strerror(static_cast<int>(rv)));
    }
    p += n;
    len -= n;
  }
  return !m.fatal;
}

bool H2Session::SubmitResponse(int32_t stream_id, int status, std::vector<http::Header> headers,
                               bool end_stream, bool fields_checked) {
  Impl& m = *impl_;
  Stream* s = m.Find(stream_id);
  if (s == nullptr || !s->reported || s->answered || m.fatal) return false;
  if (status < 200 || status > 599) {
    m.error = "response status out of range for HTTP/2";
    return false;
  }
  if (!m.Clean(&headers, fields_checked)) return false;
  const std::vector<http::Header>& clean = headers;
  std::string st = std::to_string(status);
  std::vector<nghttp2_nv> nva;
  nva.reserve(clean.size() + 1);
  nva.push_back(MakeNv(":status", st));
  for (const http::Header& f : clean) nva.push_back(MakeNv(f.name, f.value));
  nghttp2_data_provider prd;
  prd.source.ptr = nullptr;
  prd.read_callback = Impl::ReadBody;
  if (nghttp2_submit_response(m.session, stream_id, nva.data(), nva.size(), end_stream ? nullptr : &prd) != 0)
    return false;
  s->answered = true;
  s->eof = end_stream;
  return true;
}

bool H2Session::SubmitData(int32_t stream_id, std::string_view data, bool end_stream) {
  Impl& m = *impl_;
  Stream* s = m.Find(stream_id);
  if (s == nullptr || !s->answered || s->eof) return false;
  s->send_buf.append(data.data(), data.size());
  s->eof = end_stream;
  if (s->deferred && (!data.empty() || end_stream)) {
    s->deferred = false;
    nghttp2_session_resume_data(m.session, stream_id);
  }
  return true;
}

bool H2Session::SubmitTrailers(int32_t stream_id, const std::vector<http::Header>& trailers) {
  Impl& m = *impl_;
  Stream* s = m.Find(stream_id);
  if (s == nullptr || !s->answered || s->eof) return false;
  s->trailers = trailers;
  if (!m.Clean(&s->trailers)) return false;
  s->has_trailers = true;
  s->eof = true;
  if (s->deferred) {
    s->deferred = false;
    nghttp2_session_resume_data(m.session, stream_id);
  }
  return true;
}

void H2Session::ResetStream(int32_t stream_id, uint32_t error_code) {
  nghttp2_submit_rst_stream(impl_->session, NGHTTP2_FLAG_NONE, stream_id, error_code);
}

void H2Session::Consume(int32_t stream_id, size_t n) {
  Impl& m = *impl_;
  Stream* s = m.Find(stream_id);
  if (s == nullptr) return;  // closed: its bytes went back to the connection window then
  n = std::min(n, s->unconsumed);
  s->unconsumed -= n;
  if (n > 0) nghttp2_session_consume(m.session, stream_id, n);
}

size_t H2Session::Buffered(int32_t stream_id) const {
  Stream* s = impl_->Find(stream_id);
  return s == nullptr ? 0 : s->send_buf.size() - s->send_off;
}

void H2Session::ShutdownNotice() { nghttp2_submit_shutdown_notice(impl_->session); }

void H2Session::Goaway(uint32_t error_code) {
  Goaway(nghttp2_session_get_last_proc_stream_id(impl_->session), error_code);
}

void H2Session::Goaway(int32_t last_stream_id, uint32_t error_code) {
  nghttp2_submit_goaway(impl_->session, NGHTTP2_FLAG_NONE, last_stream_id, error_code, nullptr, 0);
}

std::string_view H2Session::PendingOutput() {
  Impl& m = *impl_;
  while (m.out.size() - m.out_off < m.limits.max_output_buffer) {
    const uint8_t* p = nullptr;
    ssize_t n = nghttp2_session_mem_send(m.session, &p);
    if (n < 0) {  // only out of memory or a callback failure: nothing sensible can follow
      if (!m.fatal) {
        m.fatal = true;
        m.error = nghttp2_strerror(static_cast<int>(n));
      }
      m.send_failed = true;
      break;
    }
    if (n == 0) break;
    m.out.append(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
  }
  if (!m.drained.empty()) {
    std::vector<int32_t> ids;
    ids.swap(m.drained);
    for (int32_t id : ids)
      if (m.Find(id) != nullptr) m.handler->OnStreamDrained(id);
  }
  // A terminated session (or one whose writes failed) closes no more streams itself.
  if (!m.streams.empty() &&
      (m.send_failed ||
       (nghttp2_session_want_read(m.session) == 0 && nghttp2_session_want_write(m.session) == 0)))
    m.CloseAll(m.goaway_code != kNoError ? m.goaway_code : kInternalError);
  return std::string_view(m.out).substr(m.out_off);
}

void H2Session::CloseStreams(uint32_t error_code) { impl_->CloseAll(error_code); }

void H2Session::TakeOutput(size_t n) {
  Impl& m = *impl_;
  m.out_off = std::min(m.out.size(), m.out_off + n);
  if (m.out_off == m.out.size()) {
    m.out.clear();
    m.out_off = 0;
  } else if (m.out_off >= 64 * 1024) {
    m.out.erase(0, m.out_off);
    m.out_off = 0;
  }
}

bool H2Session::WantsRead() const {
  const Impl& m = *impl_;
  return !m.fatal && nghttp2_session_want_read(m.session) != 0 &&
         m.out.size() - m.out_off < m.limits.max_output_buffer;
}

bool H2Session::WantsWrite() const {
  const Impl& m = *impl_;
  return m.out.size() > m.out_off || nghttp2_session_want_write(m.session) != 0;
}

bool H2Session::Done() const {
  const Impl& m = *impl_;
  if (m.out.size() > m.out_off) return false;
  if (m.send_failed) return true;
  if (nghttp2_session_want_write(m.session) != 0) return false;
  return m.fatal || nghttp2_session_want_read(m.session) == 0;
}

const std::string& H2Session::error() const { return impl_->error; }
uint32_t H2Session::goaway_code() const { return impl_->goaway_code; }
size_t H2Session::open_streams() const {
  size_t n = 0;
  for (const auto& kv : impl_->streams) n += kv.second->reported ? 1 : 0;
  return n;
}

}  // namespace esg::http2
