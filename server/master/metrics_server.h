// The master's Prometheus endpoint (--metrics-bind HOST:PORT or unix:PATH): `GET /metrics` answered with
// control::PrometheusText (control/prometheus.h), summed over all workers by the master — an app's own
// /metrics behind a load balancer would only ever see one worker.
//
// It runs on its own thread and io_context, apart from the supervisor: a slow or hostile scraper cannot
// delay supervision. The figures come through a render callback (RunMaster passes one that asks the
// master's AdminApi, which hands the work to the master's io thread and waits).
//
// The HTTP it speaks is the least a scraper needs, strictly bounded (ParseScrapeRequest): one request per
// connection, a head of at most kMaxScrapeHeadBytes and kMaxScrapeHeaderLines lines, no body, at most
// kMaxScrapeConnections at once, each closed after kScrapeReadTimeout without a complete head.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace esg {

inline constexpr size_t kMaxScrapeHeadBytes = 8192;
inline constexpr size_t kMaxScrapeHeaderLines = 100;
inline constexpr int kMaxScrapeConnections = 32;
inline constexpr std::chrono::seconds kScrapeReadTimeout{10};

// What a scraper's bytes so far ask for.
enum class ScrapeVerdict {
  kIncomplete,        // no blank line yet, and fewer than kMaxScrapeHeadBytes bytes: read more
  kMetrics,           // GET /metrics (a query string is allowed and ignored)
  kNotFound,          // GET of another path: 404
  kMethodNotAllowed,  // another method: 405
  kBadRequest,        // anything malformed: 400
  kTooLarge,          // the head passed kMaxScrapeHeadBytes or kMaxScrapeHeaderLines: 431
};

// Reads the head of one request from `received` (everything read so far; bytes after the head, if any,
// make it a bad request: a GET has no body). Pure: the fuzz target and the server run the same code.
ScrapeVerdict ParseScrapeRequest(std::string_view received);

// The complete HTTP/1.1 response (Connection: close) for a verdict other than kIncomplete; `body` is the
// metrics text for kMetrics and ignored otherwise.
std::string ScrapeResponse(ScrapeVerdict verdict, const std::string& body);

class MetricsServer {
 public:
  using Render = std::function<std::string()>;

  MetricsServer();
  ~MetricsServer();  // Stop()
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds `bind` ("HOST:PORT", "[v6]:PORT" or "unix:PATH"; a stale socket file at PATH is replaced) and
  // listens. False with a sentence in *error naming --metrics-bind.
  bool Open(const std::string& bind, std::string* error);
  // Where it listens, as "http://127.0.0.1:9100/metrics" or "unix:/path" (after Open).
  std::string Describe() const;
  // Serves on a thread of its own until Stop(); `render` runs on that thread, once per scrape.
  void Start(Render render);
  // Stops the thread, closes every connection and removes the UNIX socket file. Idempotent.
  void Stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace esg
