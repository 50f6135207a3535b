// `esgctl events` (see events_command.h).
#include "control/esgctl/events_command.h"

#include <chrono>
#include <ostream>
#include <thread>

#include "control/esgctl/output.h"

namespace esg::esgctl {

int RunEvents(Session& session, const Words& words) {
  ParsedArgs args;
  std::string error;
  if (!ParseArgs(words, {"--count", "--timeout"}, {}, &args, &error)) return UsageError(session, error);
  long count = 0;
  double timeout = 0;
  if (args.values.count("--count") && !ParseInt(args.values["--count"], 1, 1L << 30, &count)) {
    return UsageError(session, "--count must be a positive integer");
  }
  if (args.values.count("--timeout") && !ParseSeconds(args.values["--timeout"], &timeout)) {
    return UsageError(session, "--timeout must be a positive number of seconds");
  }
  grpc::ClientContext context;
  if (timeout > 0) {
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000)));
  }
  auto reader = session.client->control().WatchEvents(&context, v1::WatchEventsRequest());
  // A blocking Read cannot watch a flag, so Ctrl-C cancels the stream from this watcher thread.
  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    while (!finished) {
      if (session.interrupted != nullptr && session.interrupted->exchange(false)) {
        context.TryCancel();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  reader->WaitForInitialMetadata();
  std::ostream& out = *session.out;
  WriteEventsBanner(*session.err, session.json, session.client->Where());
  out.flush();
  session.err->flush();
  v1::Event event;
  long seen = 0;
  while ((count == 0 || seen < count) && reader->Read(&event)) {
    ++seen;
    WriteEvent(out, session.json, event);
    out.flush();
  }
  if (count != 0 && seen >= count) context.TryCancel();
  grpc::Status status = reader->Finish();
  finished = true;
  watcher.join();
  if (status.ok() || status.error_code() == grpc::StatusCode::CANCELLED ||
      (timeout > 0 && status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)) {
    return kExitOk;
  }
  return CallFailed(session, status);
}

}  // namespace esg::esgctl
