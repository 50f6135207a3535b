// inotify watcher for --reload (see file_watch.h).
#include "server/master/file_watch.h"

#include <dirent.h>
#include <fnmatch.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <chrono>

namespace esg {
namespace {

constexpr uint32_t kFileEvents = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE;
constexpr uint32_t kMask = kFileEvents | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK;

const std::vector<std::string>& DefaultIncludes() {
  static const std::vector<std::string>* v = new std::vector<std::string>{"*.py"};
  return *v;
}

const std::vector<std::string>& DefaultExcludes() {
  static const std::vector<std::string>* v = new std::vector<std::string>{".*", ".py[cod]", ".sw.*", "~*"};
  return *v;
}

bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

bool Glob(const std::string& pattern, const std::string& text) {
  return fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

WatchFilter WatchFilter::Make(const std::vector<std::string>& includes, const std::vector<std::string>& excludes) {
  WatchFilter filter;
  for (const std::string& p : DefaultIncludes()) {
    if (!Contains(excludes, p)) filter.includes.push_back(p);
  }
  for (const std::string& p : includes) {
    if (!Contains(filter.includes, p)) filter.includes.push_back(p);
  }
  for (const std::string& p : DefaultExcludes()) {
    if (!Contains(includes, p)) filter.excludes.push_back(p);
  }
  for (const std::string& p : excludes) {
    if (!Contains(filter.excludes, p)) filter.excludes.push_back(p);
  }
  return filter;
}

bool WatchFilter::Matches(const std::string& path) const {
  std::string name = BaseName(path);
  for (const std::string& p : excludes) {
    if (Glob(p, name) || Glob(p, path)) return false;
  }
  for (const std::string& p : includes) {
    if (Glob(p, name) || Glob(p, path)) return true;
  }
  return false;
}

bool WatchFilter::SkipsDirectory(const std::string& name) const {
  if (name == "__pycache__" || name == "node_modules") return true;
  for (const std::string& p : excludes) {
    if (Glob(p, name)) return true;
  }
  return false;
}

FileWatcher::FileWatcher(boost::asio::io_context& io, WatchFilter filter, double delay_seconds, Callback callback)
    : io_(io),
      filter_(std::move(filter)),
      delay_seconds_(delay_seconds),
      callback_(std::move(callback)),
      stream_(io),
      batch_timer_(io) {}

FileWatcher::~FileWatcher() { Stop(); }

bool FileWatcher::Start(const std::vector<std::string>& roots, std::string* error) {
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) {
    *error = std::string("cannot start the file watcher (inotify): ") + std::strerror(errno);
    return false;
  }
  stream_.assign(inotify_fd_);
  for (const std::string& root : roots) {
    struct stat st;
    if (stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      *error = "cannot watch " + root + ": not a directory";
      return false;
    }
    AddTree(root);
  }
  Read();
  return true;
}

void FileWatcher::Stop() {
  boost::system::error_code ignored;
  batch_timer_.cancel();
  if (stream_.is_open()) stream_.close(ignored);
  inotify_fd_ = -1;
}

void FileWatcher::AddTree(const std::string& directory) {
  int wd = inotify_add_watch(inotify_fd_, directory.c_str(), kMask);
  if (wd < 0) return;  // vanished or not readable: nothing to watch there
  directories_[wd] = directory;
  DIR* dir = opendir(directory.c_str());
  if (dir == nullptr) return;
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == ".." || filter_.SkipsDirectory(name)) continue;
    std::string path = directory + "/" + name;
    struct stat st;
    if (entry->d_type == DT_DIR || (entry->d_type == DT_UNKNOWN && lstat(path.c_str(), &st) == 0 &&
                                    S_ISDIR(st.st_mode))) {
      AddTree(path);
    }
  }
  closedir(dir);
}

void FileWatcher::Read() {
  stream_.async_read_some(boost::asio::buffer(buffer_, sizeof buffer_),
                          [this](const boost::system::error_code& ec, size_t bytes) {
                            if (ec) return;  // closed
                            OnEvents(bytes);
                            Read();
                          });
}

void FileWatcher::OnEvents(size_t bytes) {
  size_t at = 0;
  while (at + sizeof(inotify_event) <= bytes) {
    const auto* event = reinterpret_cast<const inotify_event*>(buffer_ + at);
    at += sizeof(inotify_event) + event->len;
    if (event->mask & IN_IGNORED) {
      directories_.erase(event->wd);
      continue;
    }
    auto dir = directories_.find(event->wd);
    if (dir == directories_.end() || event->len == 0) continue;
    std::string name = event->name;
    std::string path = dir->second + "/" + name;
    if (event->mask & IN_ISDIR) {
      if ((event->mask & (IN_CREATE | IN_MOVED_TO)) && !filter_.SkipsDirectory(name)) AddTree(path);
      continue;
    }
    // A file only created (not yet written and closed) is reported by its IN_CLOSE_WRITE.
    if ((event->mask & kFileEvents & ~IN_CREATE) == 0) continue;
    if (!filter_.Matches(path)) continue;
    pending_.insert(path);
  }
  if (pending_.empty() || batching_) return;
  batching_ = true;
  batch_timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(delay_seconds_)));
  batch_timer_.async_wait([this](const boost::system::error_code& ec) {
    batching_ = false;
    if (ec) return;
    std::vector<std::string> changed(pending_.begin(), pending_.end());
    pending_.clear();
    callback_(changed);
  });
}

}  // namespace esg
