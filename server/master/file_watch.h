// --reload: an inotify watcher on the master's event loop that reports changed source files.
//
// Watches every directory under the given roots (new directories are added as they appear; directories
// whose name matches an exclude pattern, and __pycache__, are skipped). A file counts when its name or
// path matches an include glob and no exclude glob, with uvicorn's defaults: include '*.py', exclude
// '.*', '.py[cod]', '.sw.*', '~*'; a pattern given on one side is removed from the other side's defaults.
// Changes are batched: the callback runs `delay` seconds after the first change of a batch.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace esg {

struct WatchFilter {
  std::vector<std::string> includes;
  std::vector<std::string> excludes;
  // The effective patterns for what the user passed (defaults merged as described above).
  static WatchFilter Make(const std::vector<std::string>& includes, const std::vector<std::string>& excludes);
  bool Matches(const std::string& path) const;       // a file that should trigger a reload
  bool SkipsDirectory(const std::string& name) const;  // a directory not to descend into
};

class FileWatcher {
 public:
  using Callback = std::function<void(const std::vector<std::string>& changed)>;

  FileWatcher(boost::asio::io_context& io, WatchFilter filter, double delay_seconds, Callback callback);
  ~FileWatcher();
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

  // Starts watching `roots` (directories). Returns false with `*error` when inotify is unavailable or
  // a root cannot be watched.
  bool Start(const std::vector<std::string>& roots, std::string* error);
  void Stop();

 private:
  void AddTree(const std::string& directory);
  void Read();
  void OnEvents(size_t bytes);

  boost::asio::io_context& io_;
  WatchFilter filter_;
  double delay_seconds_;
  Callback callback_;
  int inotify_fd_ = -1;
  boost::asio::posix::stream_descriptor stream_;
  boost::asio::steady_timer batch_timer_;
  std::map<int, std::string> directories_;  // watch descriptor -> directory path
  std::set<std::string> pending_;
  bool batching_ = false;
  alignas(8) char buffer_[16384];
};

}  // namespace esg
