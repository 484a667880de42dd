// The two registries of the test environment differ where it matters for cosign v3 signatures:
// the ociregistry peer serves the OCI 1.1 referrers API, docker-registry 2.8 does not. Proven with
// curl (an independent client, raw headers) and with RegistryClient, on the real peers.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "env/process.h"
#include "env/registry.h"
#include "registry/client.h"
#include "registry/content.h"
#include "registry/image.h"
#include "registry/transfer.h"
#include "util/encoding.h"
#include "util/fs.h"

namespace sealift::registry {
namespace {

using test::MemoryContent;
using test::random_bytes;
using testenv::Registry;
using testenv::RegistryKind;
using testenv::RegistryOptions;

struct Pushed {
  oci::Manifest image;
  std::string artifact;  // the artifact manifest's bytes (subject = image)
  oci::Digest artifact_digest;
};

registry::RegistryOptions client_options(const Registry& reg) {
  registry::RegistryOptions o;
  o.http.plain_http = true;
  o.retry.initial_delay_s = 0.05;
  if (reg.options().basic_auth) o.credentials = {reg.options().user, reg.options().password, "test"};
  return o;
}

// Pushes an image with our client, then builds an artifact manifest whose subject is that image.
Pushed push_image(Registry& reg, MemoryContent& src) {
  RegistryClient client(reg.host(), client_options(reg));
  Pushed p;
  p.image = src.add_image({random_bytes(5000, 7)}, R"({"architecture":"amd64","os":"linux"})");
  TransferScheduler scheduler(2);
  registry::push_image(client, scheduler, "team/app", p.image.descriptor(), src, {"1.0"});
  // An artifact as cosign v3 writes one: the empty config, one layer, artifactType, subject.
  oci::Descriptor empty = src.add_blob("{}", "application/vnd.oci.empty.v1+json");
  oci::Descriptor layer = src.add_blob(R"({"bundle":"test"})", "application/vnd.dev.sigstore.bundle.v0.3+json");
  for (const auto& d : {empty, layer}) client.push_blob("team/app", d, [&src, d](uint64_t off) { return src.open_blob(d, off); });
  nlohmann::ordered_json a = {{"schemaVersion", 2},
                              {"mediaType", oci::media::kOciManifest},
                              {"artifactType", "application/vnd.dev.sigstore.bundle.v0.3+json"},
                              {"config", empty.to_json()},
                              {"layers", {layer.to_json()}},
                              {"subject", p.image.descriptor().to_json()}};
  p.artifact = a.dump();
  p.artifact_digest = oci::Digest::of(p.artifact);
  return p;
}

// PUT of the artifact manifest with curl: the raw response headers, lowercased names.
std::string curl_put_artifact(const Registry& reg, const Pushed& p, const testenv::TempDir& tmp) {
  const auto body = tmp / "artifact.json";
  util::write_file_atomic(body, p.artifact, 0600);
  std::vector<std::string> argv = {"curl", "-sS", "--noproxy", "*", "-o", "/dev/null", "-D", "-", "-X", "PUT",
                                   "-H", fmt::format("Content-Type: {}", oci::media::kOciManifest),
                                   "--data-binary", "@" + body.string()};
  if (reg.options().basic_auth) argv.insert(argv.end(), {"-u", reg.options().user + ":" + reg.options().password});
  argv.push_back(fmt::format("{}/v2/team/app/manifests/{}", reg.url(), p.artifact_digest.str()));
  testenv::RunResult r = testenv::run(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string headers = r.out;
  for (auto& c : headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return headers;
}

testenv::RunResult curl_get(const Registry& reg, const std::string& path) {
  std::vector<std::string> argv = {"curl", "-sS", "--noproxy", "*", "-D", "-"};
  if (reg.options().basic_auth) argv.insert(argv.end(), {"-u", reg.options().user + ":" + reg.options().password});
  argv.push_back(reg.url() + path);
  return testenv::run(argv);
}

void expect_serves_referrers(Registry& reg) {
  testenv::TempDir tmp;
  MemoryContent src;
  Pushed p = push_image(reg, src);
  std::string headers = curl_put_artifact(reg, p, tmp);
  EXPECT_NE(headers.find(" 201"), std::string::npos) << headers;
  // OCI distribution 1.1: the registry says it indexed the manifest under its subject.
  EXPECT_NE(headers.find("oci-subject: " + p.image.digest().str()), std::string::npos) << headers;

  // The referrers index lists the artifact with its artifactType, read raw and with our client.
  testenv::RunResult r = curl_get(reg, "/v2/team/app/referrers/" + p.image.digest().str());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("HTTP/1.1 200"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("application/vnd.oci.image.index.v1+json"), std::string::npos) << r.out;
  RegistryClient client(reg.host(), client_options(reg));
  std::optional<oci::Manifest> index = client.referrers("team/app", p.image.digest());
  ASSERT_TRUE(index.has_value());
  ASSERT_EQ(index->manifests().size(), 1u) << index->bytes();
  EXPECT_EQ(index->manifests()[0].digest, p.artifact_digest);
  EXPECT_EQ(index->manifests()[0].artifact_type, "application/vnd.dev.sigstore.bundle.v0.3+json");
  // Nothing refers to the artifact itself: still 200 and an index. ociregistry writes
  // "manifests":null there, where the spec asks for []; RegistryClient reads it as no referrers
  // (`sealift-bundle build --upstream-key` asks this of every unsigned image).
  testenv::RunResult none = curl_get(reg, "/v2/team/app/referrers/" + p.artifact_digest.str());
  EXPECT_NE(none.out.find("HTTP/1.1 200"), std::string::npos) << none.out;
  EXPECT_NE(none.out.find("application/vnd.oci.image.index.v1+json"), std::string::npos) << none.out;
  std::optional<oci::Manifest> empty = client.referrers("team/app", p.artifact_digest);
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->manifests().empty()) << empty->bytes();
}

TEST(ReferrersPeer, OciRegistryServesTheReferrersApi) {
  Registry reg(RegistryOptions{.kind = RegistryKind::OciRegistry});
  expect_serves_referrers(reg);
}

TEST(ReferrersPeer, OciRegistryWithBasicAuthServesTheReferrersApiAndRefusesStrangers) {
  Registry reg(RegistryOptions{.kind = RegistryKind::OciRegistry, .basic_auth = true});
  expect_serves_referrers(reg);
  // Without credentials, or with a wrong password: 401 with a Basic challenge, as distribution does.
  testenv::RunResult anon = testenv::run({"curl", "-sS", "--noproxy", "*", "-D", "-", "-o", "/dev/null", reg.url() + "/v2/"});
  EXPECT_NE(anon.out.find(" 401"), std::string::npos) << anon.out;
  EXPECT_NE(anon.out.find("Basic realm="), std::string::npos) << anon.out;
  testenv::RunResult wrong = testenv::run({"curl", "-sS", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code}",
                                           "-u", reg.options().user + ":not-the-password", reg.url() + "/v2/"});
  EXPECT_EQ(wrong.out, "401");
}

TEST(ReferrersPeer, DockerRegistry28HasNoReferrersApi) {
  Registry reg;
  testenv::TempDir tmp;
  MemoryContent src;
  Pushed p = push_image(reg, src);
  // It stores the manifest, but does not say it indexed the subject ...
  std::string headers = curl_put_artifact(reg, p, tmp);
  EXPECT_NE(headers.find(" 201"), std::string::npos) << headers;
  EXPECT_EQ(headers.find("oci-subject:"), std::string::npos) << headers;
  // ... and has no referrers endpoint: 404, which clients take as "use the referrers tag".
  testenv::RunResult r = curl_get(reg, "/v2/team/app/referrers/" + p.image.digest().str());
  EXPECT_NE(r.out.find("HTTP/1.1 404"), std::string::npos) << r.out;
  RegistryClient client(reg.host(), client_options(reg));
  EXPECT_FALSE(client.referrers("team/app", p.image.digest()).has_value());
}

}  // namespace
}  // namespace sealift::registry
