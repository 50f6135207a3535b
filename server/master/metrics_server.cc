// The master's Prometheus endpoint (see metrics_server.h).
#include "server/master/metrics_server.h"

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "control/prometheus.h"
#include "server/master/listeners.h"

namespace esg {
namespace {

namespace asio = boost::asio;
using Protocol = asio::generic::stream_protocol;
using Acceptor = asio::basic_socket_acceptor<Protocol>;

bool IsTokenChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsFieldChar(char c) { return c == '\t' || (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f); }

}  // namespace

ScrapeVerdict ParseScrapeRequest(std::string_view received) {
  const size_t end = received.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    return received.size() >= kMaxScrapeHeadBytes ? ScrapeVerdict::kTooLarge : ScrapeVerdict::kIncomplete;
  }
  if (end + 4 > kMaxScrapeHeadBytes) return ScrapeVerdict::kTooLarge;
  if (end + 4 != received.size()) return ScrapeVerdict::kBadRequest;  // no body, no pipelining
  std::string_view head = received.substr(0, end + 2);                  // every line ends with CRLF
  size_t line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  head.remove_prefix(line_end + 2);

  // Request line: METHOD SP TARGET SP HTTP/1.x
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return ScrapeVerdict::kBadRequest;
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return ScrapeVerdict::kBadRequest;
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  for (char c : method) {
    if (!IsTokenChar(c)) return ScrapeVerdict::kBadRequest;
  }
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return ScrapeVerdict::kBadRequest;
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return ScrapeVerdict::kBadRequest;
  if (target.empty() || target[0] != '/') return ScrapeVerdict::kBadRequest;

  // Header lines: NAME ":" VALUE, no obsolete folding, no body announced.
  size_t lines = 0;
  while (!head.empty()) {
    if (++lines > kMaxScrapeHeaderLines) return ScrapeVerdict::kTooLarge;
    line_end = head.find("\r\n");
    line = head.substr(0, line_end);
    head.remove_prefix(line_end + 2);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return ScrapeVerdict::kBadRequest;
    std::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (!IsTokenChar(c)) return ScrapeVerdict::kBadRequest;
    }
    std::string_view value = line.substr(colon + 1);
    for (char c : value) {
      if (!IsFieldChar(c)) return ScrapeVerdict::kBadRequest;
    }
    auto is = [&name](std::string_view wanted) {
      if (name.size() != wanted.size()) return false;
      for (size_t i = 0; i < name.size(); ++i) {
        if ((name[i] | 0x20) != wanted[i]) return false;
      }
      return true;
    };
    if (is("transfer-encoding")) return ScrapeVerdict::kBadRequest;
    if (is("content-length")) {
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
      if (value != "0") return ScrapeVerdict::kBadRequest;
    }
  }
  if (method != "GET") return ScrapeVerdict::kMethodNotAllowed;
  std::string_view path = target.substr(0, target.find('?'));
  return path == "/metrics" ? ScrapeVerdict::kMetrics : ScrapeVerdict::kNotFound;
}

std::string ScrapeResponse(ScrapeVerdict verdict, const std::string& body) {
  std::string status, text, extra;
  switch (verdict) {
    case ScrapeVerdict::kMetrics: status = "200 OK"; break;
    case ScrapeVerdict::kNotFound: status = "404 Not Found"; text = "Not Found: ESG serves /metrics only.\n"; break;
    case ScrapeVerdict::kMethodNotAllowed:
      status = "405 Method Not Allowed";
      text = "Method Not Allowed: use GET /metrics.\n";
      extra = "Allow: GET\r\n";
      break;
    case ScrapeVerdict::kTooLarge:
      status = "431 Request Header Fields Too Large";
      text = "Request Header Fields Too Large\n";
      break;
    default: status = "400 Bad Request"; text = "Bad Request\n"; break;
  }
  const std::string& payload = verdict == ScrapeVerdict::kMetrics ? body : text;
  std::string out = "HTTP/1.1 " + status + "\r\nContent-Type: ";
  out += verdict == ScrapeVerdict::kMetrics ? std::string(control::kPrometheusContentType)
                                            : std::string("text/plain; charset=utf-8");
  out += "\r\nContent-Length: " + std::to_string(payload.size()) + "\r\n" + extra + "Connection: close\r\n\r\n";
  out += payload;
  return out;
}

// ------------------------------------------------------------------------------------------------ server

struct MetricsServer::State {
  asio::io_context io;
  Acceptor acceptor{io};
  std::string describe;
  std::string unix_path;
  Render render;
  std::thread thread;
  int open_connections = 0;
  bool stopped = false;
};

namespace {

class Scrape : public std::enable_shared_from_this<Scrape> {
 public:
  Scrape(Protocol::socket socket, asio::io_context& io, const MetricsServer::Render& render, int* open)
      : socket_(std::move(socket)), timer_(io), render_(render), open_(open) {
    ++*open_;
  }
  ~Scrape() { --*open_; }

  void Start() {
    timer_.expires_after(kScrapeReadTimeout);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->Close();
    });
    Read();
  }

 private:
  void Read() {
    socket_.async_read_some(asio::buffer(chunk_), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                               size_t n) {
      if (ec) return self->Close();
      self->received_.append(self->chunk_.data(), n);
      ScrapeVerdict verdict = ParseScrapeRequest(self->received_);
      if (verdict == ScrapeVerdict::kIncomplete) return self->Read();
      self->Answer(verdict);
    });
  }

  void Answer(ScrapeVerdict verdict) {
    timer_.cancel();
    response_ = ScrapeResponse(verdict, verdict == ScrapeVerdict::kMetrics ? render_() : std::string());
    asio::async_write(socket_, asio::buffer(response_),
                      [self = shared_from_this()](const boost::system::error_code&, size_t) { self->Close(); });
  }

  void Close() {
    boost::system::error_code ignored;
    timer_.cancel();
    socket_.shutdown(Protocol::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  Protocol::socket socket_;
  asio::steady_timer timer_;
  const MetricsServer::Render& render_;
  int* open_;
  std::array<char, 2048> chunk_;
  std::string received_;
  std::string response_;
};

void Accept(MetricsServer::Render* render, Acceptor* acceptor, asio::io_context* io, int* open) {
  acceptor->async_accept([=](const boost::system::error_code& ec, Protocol::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
    if (!ec) {
      if (*open >= kMaxScrapeConnections) {
        boost::system::error_code ignored;
        socket.close(ignored);  // a scraper needs one connection; more at once is not a scraper
      } else {
        std::make_shared<Scrape>(std::move(socket), *io, *render, open)->Start();
      }
    }
    Accept(render, acceptor, io, open);
  });
}

}  // namespace

MetricsServer::MetricsServer() : state_(std::make_unique<State>()) {}

MetricsServer::~MetricsServer() { Stop(); }

bool MetricsServer::Open(const std::string& bind, std::string* error) {
  boost::system::error_code ec;
  Protocol::endpoint endpoint;
  const std::string what = "--metrics-bind " + bind + ": ";
  if (bind.rfind("unix:", 0) == 0) {
    std::string path = bind.substr(5);
    if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path)) {
      *error = what + "give a socket path shorter than " + std::to_string(sizeof(sockaddr_un::sun_path)) +
               " bytes after unix:.";
      return false;
    }
    // Only a stale socket is replaced: never another server's (the app's own --uds, say), never a file.
    std::string why;
    switch (ProbeUnixPath(path, &why)) {
      case PathState::kAbsent:
        break;
      case PathState::kStale:
        unlink(path.c_str());
        break;
      case PathState::kLive:
      case PathState::kError:
        *error = what + why + ".";
        return false;
    }
    endpoint = Protocol::endpoint(asio::local::stream_protocol::endpoint(path));
    state_->unix_path = path;
    state_->describe = "unix:" + path;
  } else {
    const size_t colon = bind.rfind(':');
    std::string host = colon == std::string::npos ? "" : bind.substr(0, colon);
    std::string port_text = colon == std::string::npos ? "" : bind.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    int port = -1;
    if (!port_text.empty() && port_text.size() <= 5 &&
        port_text.find_first_not_of("0123456789") == std::string::npos) {
      port = std::stoi(port_text);
    }
    if (host.empty() || port < 0 || port > 65535) {
      *error = what + "expected HOST:PORT (e.g. 127.0.0.1:9100, [::1]:9100) or unix:PATH.";
      return false;
    }
    asio::ip::address address = asio::ip::make_address(host, ec);
    if (ec) {
      *error = what + "'" + host + "' is not an IP address.";
      return false;
    }
    endpoint = Protocol::endpoint(asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port)));
  }
  Acceptor& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec && state_->unix_path.empty()) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    *error = what + ec.message() + ".";
    boost::system::error_code ignored;
    acceptor.close(ignored);
    return false;
  }
  if (state_->unix_path.empty()) {
    Protocol::endpoint local = acceptor.local_endpoint(ec);
    asio::ip::tcp::endpoint tcp;
    std::memcpy(tcp.data(), local.data(), std::min<size_t>(local.size(), tcp.capacity()));
    const std::string shown = tcp.address().is_v6() ? "[" + tcp.address().to_string() + "]" : tcp.address().to_string();
    state_->describe = "http://" + shown + ":" + std::to_string(tcp.port()) + "/metrics";
  }
  return true;
}

std::string MetricsServer::Describe() const { return state_->describe; }

void MetricsServer::Start(Render render) {
  State* s = state_.get();
  s->render = std::move(render);
  Accept(&s->render, &s->acceptor, &s->io, &s->open_connections);
  s->thread = std::thread([s] { s->io.run(); });
}

void MetricsServer::Stop() {
  State* s = state_.get();
  if (s->stopped) return;
  s->stopped = true;
  if (s->thread.joinable()) {
    asio::post(s->io, [s] {
      boost::system::error_code ignored;
      s->acceptor.close(ignored);
    });
    s->io.stop();
    s->thread.join();
  } else {
    boost::system::error_code ignored;
    s->acceptor.close(ignored);
  }
  if (!s->unix_path.empty()) unlink(s->unix_path.c_str());
}

}  // namespace esg
