// A chunked upload interrupted by killing the registry mid-blob (SIGKILL, as a crash or a lost
// node would) finishes after the registry comes back, and what the registry holds is correct.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "env/fault_proxy.h"
#include "env/harbor.h"
#include "env/registry.h"
#include "registry/client.h"
#include "registry/content.h"

namespace sealift::registry {
namespace {

using test::MemoryContent;
using test::random_bytes;

// Kills the registry once `kill_after` bytes of the blob went out, and brings it back a moment
// later from another thread, while the client keeps retrying. That thread lives as long as this
// object: the registry runs under setpriv --pdeathsig, which fires when the starting *thread* ends.
class Crash {
 public:
  Crash(testenv::Registry& registry, uint64_t kill_after) : registry_(registry), kill_after_(kill_after) {}
  ~Crash() {
    {
      std::lock_guard lock(mu_);
      over_ = true;
    }
    cv_.notify_all();
    if (restarter_.joinable()) restarter_.join();
  }
  void on_progress(uint64_t done) {
    if (done < kill_after_ || fired_.exchange(true)) return;
    registry_.kill();
    restarter_ = std::thread([this] {
      std::this_thread::sleep_for(std::chrono::milliseconds(700));
      registry_.start();
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return over_; });
    });
  }
  bool fired() const { return fired_; }

 private:
  testenv::Registry& registry_;
  uint64_t kill_after_;
  std::atomic<bool> fired_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool over_ = false;
  std::thread restarter_;
};

RegistryOptions patient(bool plain_http) {
  RegistryOptions o;
  o.http.plain_http = plain_http;
  o.retry.retries = 12;
  o.retry.initial_delay_s = 0.1;
  o.retry.max_delay_s = 1;
  o.monolithic_limit = 4 << 20;
  o.chunk_size = 4 << 20;
  return o;
}

void upload_through_a_crash(const std::string& host, testenv::Registry& registry, RegistryOptions o) {
  Crash crash(registry, 9 << 20);
  o.progress = [&](const oci::Digest&, uint64_t done, uint64_t) { crash.on_progress(done); };
  RegistryClient client(host, o);
  MemoryContent src;
  std::string blob = random_bytes(24 << 20, 77);
  auto d = src.add_blob(blob, std::string(oci::media::kOciLayerGzip));
  EXPECT_EQ(client.push_blob("p/big", d, [&](uint64_t off) { return src.open_blob(d, off); }), BlobPush::Uploaded);
  ASSERT_TRUE(crash.fired());
  RegistryStats s = client.stats();
  EXPECT_GE(s.retries, 1u);
  EXPECT_GE(s.upload_resumes + s.upload_restarts, 1u) << "the upload continued or started over";
  EXPECT_GT(s.bytes_uploaded, blob.size()) << "some bytes went twice";
  ::testing::Test::RecordProperty("resumes", static_cast<int>(s.upload_resumes));
  ::testing::Test::RecordProperty("restarts", static_cast<int>(s.upload_restarts));
  ::testing::Test::RecordProperty("bytes_uploaded", std::to_string(s.bytes_uploaded));

  // The registry holds exactly the blob: a fresh client streams it back through digest checks.
  RegistryOptions plain_reader = o;
  plain_reader.progress = nullptr;
  RegistryClient reader(host, plain_reader);
  io::StringSink back;
  reader.fetch_blob("p/big", d, back);
  EXPECT_EQ(back.out, blob);
}

TEST(ChunkedUpload, SurvivesARegistryCrashMidBlob) {
  testenv::Registry registry;
  upload_through_a_crash(registry.host(), registry, patient(true));
}

TEST(ChunkedUpload, SurvivesARegistryCrashBehindTheHarborStandIn) {
  // Through the proxy the client sees 502s while the registry is down, then fresh tokens.
  testenv::HarborLike harbor(std::vector<std::string>{"p"});
  RegistryOptions o = patient(true);
  o.credentials = {harbor.admin_user(), harbor.admin_password(), "test"};
  upload_through_a_crash(harbor.host(), harbor.registry(), o);
}

// A registry that answers 500 to every request of one upload session (what docker-registry does
// with an upload whose state it lost in a crash) does not end the push: after each 500 the client
// starts a new session, and the blob lands. A 503 keeps the session.
TEST(BlobUpload, A500InsideASessionStartsANewOne) {
  testenv::Registry registry;
  testenv::FaultProxy proxy(registry.port());
  testenv::FaultRule broken;
  broken.method = "PUT";
  broken.path_part = "/blobs/uploads/";
  broken.times = 2;
  broken.status = 500;
  proxy.add(broken);
  RegistryOptions o = patient(true);
  RegistryClient client(proxy.host(), o);
  MemoryContent src;
  std::string blob = random_bytes(1 << 20, 5);
  auto d = src.add_blob(blob, std::string(oci::media::kOciLayerGzip));
  EXPECT_EQ(client.push_blob("p/five", d, [&](uint64_t off) { return src.open_blob(d, off); }), BlobPush::Uploaded);
  EXPECT_EQ(client.stats().upload_restarts, 2u);

  testenv::FaultRule unavailable = broken;
  unavailable.status = 503;
  proxy.add(unavailable);
  std::string other = random_bytes(1 << 20, 6);
  auto e = src.add_blob(other, std::string(oci::media::kOciLayerGzip));
  EXPECT_EQ(client.push_blob("p/five", e, [&](uint64_t off) { return src.open_blob(e, off); }), BlobPush::Uploaded);
  EXPECT_EQ(client.stats().upload_restarts, 2u) << "a 503 keeps the session";

  io::StringSink back;
  RegistryClient(registry.host(), o).fetch_blob("p/five", d, back);
  EXPECT_EQ(back.out, blob);
}

TEST(BlobDownload, ContinuesWithARangeRequestAfterACrash) {
  testenv::Registry registry;
  MemoryContent src;
  std::string blob = random_bytes(24 << 20, 78);
  auto d = src.add_blob(blob, std::string(oci::media::kOciLayerGzip));
  {
    RegistryClient writer(registry.host(), patient(true));
    writer.push_blob("p/big", d, [&](uint64_t off) { return src.open_blob(d, off); });
  }
  Crash crash(registry, 9 << 20);
  RegistryOptions o = patient(true);
  o.progress = [&](const oci::Digest&, uint64_t done, uint64_t) { crash.on_progress(done); };
  RegistryClient client(registry.host(), o);
  io::StringSink back;
  client.fetch_blob("p/big", d, back);
  ASSERT_TRUE(crash.fired());
  EXPECT_EQ(back.out, blob);
  RegistryStats s = client.stats();
  EXPECT_GE(s.retries, 1u);
  EXPECT_EQ(s.bytes_fetched, blob.size()) << "nothing was fetched twice: the retry asked for the rest only";
}

}  // namespace
}  // namespace sealift::registry
