// RegistryClient against a real docker-registry (distribution 2.8) on 127.0.0.1.
#include "registry/client.h"

#include <thread>

#include <gtest/gtest.h>

#include "env/registry.h"
#include "registry/content.h"
#include "registry/image.h"
#include "registry/transfer.h"
#include "util/error.h"

namespace sealift::registry {
namespace {

using test::MemoryContent;
using test::random_bytes;
using testenv::Registry;

RegistryOptions plain() {
  RegistryOptions o;
  o.http.plain_http = true;
  o.retry.initial_delay_s = 0.05;
  return o;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

BlobOpener opener(MemoryContent& c, const oci::Descriptor& d) {
  return [&c, d](uint64_t offset) { return c.open_blob(d, offset); };
}

TEST(RegistryClient, PushThenPullKeepsExactBytesAndDigests) {
  Registry reg;
  RegistryClient client(reg.host(), plain());
  MemoryContent src;
  auto amd = src.add_image({random_bytes(3000, 1), random_bytes(70000, 2)}, R"({"architecture":"amd64","os":"linux"})");
  auto arm = src.add_image({random_bytes(3000, 1), random_bytes(50000, 3)}, R"({"architecture":"arm64","os":"linux"})",
                           oci::media::kDockerManifest);
  auto index = src.add_index({{amd, "linux/amd64"}, {arm, "linux/arm64/v8"}});
  TransferScheduler scheduler(4);
  auto pushed = push_image(client, scheduler, "team/app", index.descriptor(), src, {"1.0", "latest"});
  EXPECT_EQ(pushed.blobs.size(), 5u);  // one shared layer
  EXPECT_EQ(pushed.manifests.size(), 3u);

  oci::Descriptor resolved = client.resolve("team/app", "1.0");
  EXPECT_EQ(resolved.digest, index.digest());
  EXPECT_EQ(resolved.size, index.size());
  EXPECT_EQ(resolved.media_type, oci::media::kOciIndex);
  EXPECT_EQ(client.get_manifest("team/app", "latest").bytes(), index.bytes());
  oci::Manifest arm_back = client.get_manifest("team/app", arm.descriptor());
  EXPECT_EQ(arm_back.bytes(), arm.bytes());
  EXPECT_EQ(arm_back.media_type(), oci::media::kDockerManifest);

  MemoryContent dst;
  auto pulled = pull_image(client, scheduler, "team/app", "1.0", {}, dst);
  EXPECT_EQ(pulled.root.digest, index.digest());
  EXPECT_EQ(dst.blobs, src.blobs);
  EXPECT_EQ(dst.manifests, src.manifests);
  auto tags = client.list_tags("team/app");
  std::sort(tags.begin(), tags.end());
  EXPECT_EQ(tags, (std::vector<std::string>{"1.0", "latest"}));
  EXPECT_TRUE(client.list_tags("team/none").empty());
}

TEST(RegistryClient, PlatformSelectionPullsOnlyTheAskedPlatform) {
  Registry reg;
  RegistryClient client(reg.host(), plain());
  MemoryContent src;
  auto amd = src.add_image({random_bytes(1000, 10)}, R"({"architecture":"amd64","os":"linux"})");
  auto arm = src.add_image({random_bytes(1000, 11)}, R"({"architecture":"arm64","os":"linux"})");
  auto index = src.add_index({{amd, "linux/amd64"}, {arm, "linux/arm64/v8"}});
  TransferScheduler scheduler(2);
  push_image(client, scheduler, "p/app", index.descriptor(), src, {"v1"});

  MemoryContent dst;
  auto pulled = pull_image(client, scheduler, "p/app", "v1", {oci::Platform::parse("linux/arm64")}, dst);
  ASSERT_EQ(pulled.manifests.size(), 2u);
  EXPECT_EQ(pulled.manifests[0].digest, arm.digest());
  EXPECT_EQ(dst.manifests.count(amd.digest()), 0u);
  EXPECT_EQ(dst.blobs.count(amd.layers()[0].digest), 0u);
  EXPECT_EQ(dst.blobs.at(arm.layers()[0].digest), src.blobs.at(arm.layers()[0].digest));
  EXPECT_EQ(dst.manifests.at(index.digest()), index.bytes()) << "the index keeps its exact bytes";
  std::string e = error_of([&] { pull_image(client, scheduler, "p/app", "v1", {oci::Platform::parse("linux/s390x")}, dst); });
  EXPECT_NE(e.find("no image for platform linux/s390x"), std::string::npos) << e;
}

TEST(RegistryClient, SecondPushUploadsNothingAndMountServesAnotherRepository) {
  Registry reg;
  RegistryClient client(reg.host(), plain());
  MemoryContent src;
  std::string base = random_bytes(200000, 20);
  auto app = src.add_image({base, random_bytes(1000, 21)}, R"({"os":"linux","architecture":"amd64","app":1})");
  auto other = src.add_image({base, random_bytes(1000, 22)}, R"({"os":"linux","architecture":"amd64","app":2})");
  TransferScheduler scheduler(3);
  push_image(client, scheduler, "p/app", app.descriptor(), src, {"1"});
  RegistryStats first = client.stats();
  EXPECT_EQ(first.blobs_uploaded, 3u);
  EXPECT_EQ(first.blobs_mounted, 0u);

  // A re-run: a new client and scheduler that know nothing of the first push.
  RegistryClient again(reg.host(), plain());
  TransferScheduler again_scheduler(3);
  push_image(again, again_scheduler, "p/app", app.descriptor(), src, {"1"});
  RegistryStats second = again.stats();
  EXPECT_EQ(second.blobs_uploaded, 0u) << "a second push uploads no blob";
  EXPECT_EQ(second.bytes_uploaded, 0u);
  EXPECT_EQ(second.blobs_skipped, 3u);
  EXPECT_EQ(second.manifests_pushed, 1u) << "only the tag is written again";

  push_image(client, scheduler, "p/other", other.descriptor(), src, {"1"});
  RegistryStats third = client.stats();
  EXPECT_EQ(third.blobs_mounted, 1u) << "the shared base layer is mounted from p/app";
  EXPECT_EQ(third.blobs_uploaded, first.blobs_uploaded + 2);
  // The registry itself serves the mounted layer from p/other.
  MemoryContent dst;
  pull_image(client, scheduler, "p/other", "1", {}, dst);
  EXPECT_EQ(dst.blobs.at(oci::Digest::of(base)), base);
}

TEST(RegistryClient, ChunkedUploadOfALargeBlob) {
  Registry reg;
  RegistryOptions o = plain();
  o.monolithic_limit = 1 << 20;
  o.chunk_size = 1 << 20;
  std::vector<uint64_t> progress;
  o.progress = [&](const oci::Digest&, uint64_t done, uint64_t) { progress.push_back(done); };
  RegistryClient client(reg.host(), o);
  MemoryContent src;
  std::string big = random_bytes((5 << 20) + 12345, 30);
  auto d = src.add_blob(big, std::string(oci::media::kOciLayerGzip));
  EXPECT_EQ(client.push_blob("p/big", d, opener(src, d)), BlobPush::Uploaded);
  EXPECT_EQ(src.opens, 1) << "one stream serves all chunks";
  EXPECT_EQ(client.stats().bytes_uploaded, big.size());
  EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
  EXPECT_EQ(progress.back(), big.size());
  EXPECT_EQ(client.push_blob("p/big", d, opener(src, d)), BlobPush::Skipped);
  io::StringSink back;
  client.fetch_blob("p/big", d, back);
  EXPECT_EQ(back.out, big);
}

TEST(RegistryClient, FetchVerifiesDigestAndSize) {
  Registry reg;
  RegistryClient client(reg.host(), plain());
  MemoryContent src;
  auto d = src.add_blob(random_bytes(4096, 40), "application/octet-stream");
  client.push_blob("p/x", d, opener(src, d));

  oci::Descriptor lying = d;
  lying.size = 4000;
  io::StringSink sink;
  std::string e = error_of([&] { client.fetch_blob("p/x", lying, sink); });
  EXPECT_NE(e.find("more data than the 4000 bytes"), std::string::npos) << e;

  oci::Descriptor missing = src.add_blob("not pushed", "application/octet-stream");
  e = error_of([&] { client.fetch_blob("p/x", missing, sink); });
  EXPECT_NE(e.find("blob unknown"), std::string::npos) << e;

  e = error_of([&] { client.resolve("p/x", "nope"); });
  EXPECT_EQ(e, "pull " + reg.host() + "/p/x:nope: manifest unknown");
  e = error_of([&] { client.get_manifest("p/x", "nope"); });
  EXPECT_EQ(e, "pull " + reg.host() + "/p/x:nope: manifest unknown");
  EXPECT_NE(error_of([&] { client.resolve("P/X", "1"); }).find("not a valid repository name"), std::string::npos);
  EXPECT_NE(error_of([&] { client.resolve("p/x", "bad tag"); }).find("neither a tag nor"), std::string::npos);
}

TEST(RegistryClient, CorruptSourceIsRefusedByTheRegistry) {
  Registry reg;
  RegistryClient client(reg.host(), plain());
  MemoryContent src;
  std::string good = random_bytes(10000, 50);
  auto d = test::describe(good, "application/octet-stream");
  std::string bad = good;
  bad[500] ^= 1;
  src.blobs[d.digest] = bad;
  std::string e = error_of([&] { client.push_blob("p/x", d, opener(src, d)); });
  EXPECT_NE(e.find("the local copy is corrupt"), std::string::npos) << e;
  EXPECT_FALSE(client.blob_exists("p/x", d.digest));
}

TEST(RegistryClient, ManifestPushNeedsItsBlobsFirst) {
  Registry reg;
  RegistryClient client(reg.host(), plain());
  MemoryContent src;
  auto m = src.add_image({random_bytes(100, 60)}, R"({"os":"linux"})");
  std::string e = error_of([&] { client.put_manifest("p/x", "1", m); });
  EXPECT_NE(e.find("push p/x:1"), std::string::npos) << e;
  EXPECT_NE(e.find("blob unknown"), std::string::npos) << e;
}

TEST(RegistryClient, UnreachableRegistrySaysSoAfterBoundedRetries) {
  int port = testenv::free_port();
  RegistryOptions o = plain();
  o.retry.retries = 2;
  o.retry.initial_delay_s = 0.01;
  RegistryClient client("127.0.0.1:" + std::to_string(port), o);
  std::string e = error_of([&] { client.resolve("p/x", "1"); });
  EXPECT_NE(e.find("cannot connect"), std::string::npos) << e;
  EXPECT_NE(e.find("after 3 attempts"), std::string::npos) << e;
  EXPECT_NE(e.find("while trying to pull 127.0.0.1"), std::string::npos) << e;
  EXPECT_EQ(client.stats().retries, 2u);
}

TEST(RegistryClient, PlainHttpOnlyWhenAsked) {
  Registry reg;
  RegistryClient tls_client(reg.host(), {});
  std::string e = error_of([&] { tls_client.ping(); });
  EXPECT_NE(e.find("TLS handshake failed"), std::string::npos) << e;
  EXPECT_NE(e.find("--plain-http"), std::string::npos) << e;
}

}  // namespace
}  // namespace sealift::registry
