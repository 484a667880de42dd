// The one place sealift runs transfers in parallel: a bounded pool of workers (--jobs) that runs
// each keyed job once. The bundler and the installer submit blob pulls and pushes here; a key such
// as "push <repo>@<digest>" makes the second submission of the same work share the first's outcome.
// After the first failure no further job starts: pushing 50 GB after a refused login helps nobody.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sealift::registry {

class TransferScheduler {
 public:
  explicit TransferScheduler(int jobs);
  // Lets running jobs finish, drops queued ones.
  ~TransferScheduler();
  TransferScheduler(const TransferScheduler&) = delete;
  TransferScheduler& operator=(const TransferScheduler&) = delete;

  // Queues `job` unless a job with this key was submitted before; returns its shared outcome. An
  // urgent job goes ahead of everything queued (small documents that a caller waits for while
  // large blobs are queued).
  std::shared_future<void> submit(const std::string& key, std::function<void()> job, bool urgent = false);
  // Waits for every job submitted so far; rethrows the first failure that happened. Never call it
  // from inside a job.
  void wait();
  // Waits for `jobs` only (outcomes returned by submit), so that several callers can share one
  // scheduler; when any of them failed, rethrows the scheduler's first failure (the cause, not a
  // job that did not start because of it). Never call it from inside a job.
  void wait(const std::vector<std::shared_future<void>>& jobs);
  int jobs() const { return jobs_; }

 private:
  void work();

  int jobs_;
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::packaged_task<void()>> queue_;
  std::map<std::string, std::shared_future<void>> submitted_;
  std::vector<std::shared_future<void>> pending_;
  std::vector<std::thread> workers_;
  std::exception_ptr first_failure_;
  bool stopping_ = false;
};

}  // namespace sealift::registry
