// The Harbor stand-in (tests/env/harbor) against the answers of a real Harbor v2.15.2, captured
// with curl (shared/reference/harbor-2.15-observed.md): one test per captured answer, same
// request, same status, headers and body (the project is "hh1" there and here, so that bodies
// naming it have the captured lengths). Headers the transcript leaves out (cookies, dates,
// request ids) are not compared. Tests elsewhere trust the stand-in to be Harbor; these keep it so.
// The older releases it can imitate (-harbor-version) are checked where they differ.
#include <algorithm>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "env/harbor.h"
#include "oci/manifest.h"
#include "registry/client.h"
#include "registry/http.h"
#include "util/encoding.h"

namespace sealift::testenv {
namespace {

const std::string kZeroDigest = "sha256:" + std::string(64, '0');

registry::RegistryOptions admin_options(const HarborLike& h) {
  registry::RegistryOptions ro;
  ro.http.plain_http = true;
  ro.credentials = {h.admin_user(), h.admin_password(), "test"};
  return ro;
}

// A source owning its bytes.
class StringSource : public io::Source {
 public:
  explicit StringSource(std::string s) : s_(std::move(s)), src_(s_) {}
  size_t read(std::span<std::byte> buf) override { return src_.read(buf); }

 private:
  std::string s_;
  io::MemorySource src_;
};

void push_blob(registry::RegistryClient& c, const std::string& repo, const oci::Descriptor& d, const std::string& data) {
  c.push_blob(repo, d, [&data](uint64_t offset) { return std::make_unique<StringSource>(data.substr(offset)); });
}

// The claims of a JWT (base64url without padding).
nlohmann::json jwt_claims(const std::string& token) {
  size_t a = token.find('.'), b = token.rfind('.');
  std::string part = token.substr(a + 1, b - a - 1);
  for (char& ch : part) ch = ch == '-' ? '+' : ch == '_' ? '/' : ch;
  while (part.size() % 4) part += '=';
  return nlohmann::json::parse(util::base64_decode(part));
}

oci::Descriptor blob(const std::string& media_type, const std::string& data) {
  oci::Descriptor d;
  d.media_type = media_type;
  d.digest = oci::Digest::of(data);
  d.size = static_cast<int64_t>(data.size());
  return d;
}

nlohmann::ordered_json json_of(const oci::Descriptor& d) { return d.to_json(); }

// What the transcript's hh1/library/alpine:3.19 holds: an index of two images, cosign's .sig of it
// and a Sigstore bundle referrer (a cosign v3 signature). Returns the index's digest.
oci::Digest push_alpine(HarborLike& h) {
  registry::RegistryClient c(h.host(), admin_options(h));
  const std::string repo = "hh1/library/alpine";
  const std::string layer = "sealift stand-in layer";
  oci::Descriptor layer_d = blob("application/vnd.oci.image.layer.v1.tar", layer);
  push_blob(c, repo, layer_d, layer);
  nlohmann::ordered_json index = {{"schemaVersion", 2},
                                  {"mediaType", "application/vnd.oci.image.index.v1+json"},
                                  {"manifests", nlohmann::ordered_json::array()}};
  for (std::string arch : {"amd64", "arm64"}) {
    std::string config = nlohmann::ordered_json{{"architecture", arch}, {"os", "linux"}}.dump();
    oci::Descriptor config_d = blob("application/vnd.oci.image.config.v1+json", config);
    push_blob(c, repo, config_d, config);
    nlohmann::ordered_json m = {{"schemaVersion", 2},
                                {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                {"config", json_of(config_d)},
                                {"layers", {json_of(layer_d)}}};
    oci::Manifest image = oci::Manifest::parse(m.dump(), "application/vnd.oci.image.manifest.v1+json");
    c.put_manifest(repo, image.digest().str(), image);
    nlohmann::ordered_json child = json_of(image.descriptor());
    child["platform"] = {{"architecture", arch}, {"os", "linux"}};
    index["manifests"].push_back(child);
  }
  oci::Manifest top = oci::Manifest::parse(index.dump(), "application/vnd.oci.image.index.v1+json");
  c.put_manifest(repo, "3.19", top);

  const std::string payload = "{\"critical\":{}}";
  oci::Descriptor payload_d = blob("application/vnd.dev.cosign.simplesigning.v1+json", payload);
  push_blob(c, repo, payload_d, payload);
  const std::string empty = "{}";
  oci::Descriptor empty_d = blob("application/vnd.oci.empty.v1+json", empty);
  push_blob(c, repo, empty_d, empty);
  nlohmann::ordered_json sig = {{"schemaVersion", 2},
                                {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                {"config", json_of(empty_d)},
                                {"layers", {json_of(payload_d)}}};
  c.put_manifest(repo, top.digest().tag_form() + ".sig",
                 oci::Manifest::parse(sig.dump(), "application/vnd.oci.image.manifest.v1+json"));

  const std::string bundle = "{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\"}";
  oci::Descriptor bundle_d = blob("application/vnd.dev.sigstore.bundle.v0.3+json", bundle);
  push_blob(c, repo, bundle_d, bundle);
  nlohmann::ordered_json referrer = {{"schemaVersion", 2},
                                     {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                     {"artifactType", "application/vnd.dev.sigstore.bundle.v0.3+json"},
                                     {"config", json_of(empty_d)},
                                     {"layers", {json_of(bundle_d)}},
                                     {"subject", json_of(top.descriptor())}};
  oci::Manifest r = oci::Manifest::parse(referrer.dump(), "application/vnd.oci.image.manifest.v1+json");
  // Harbor indexes a manifest with a subject, and says so.
  EXPECT_TRUE(c.put_manifest(repo, r.digest().str(), r));
  return top.digest();
}

class StandIn : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    harbor_ = new HarborLike(std::vector<std::string>{"hh1"});
    alpine_ = new oci::Digest(push_alpine(*harbor_));
  }
  static void TearDownTestSuite() {
    delete alpine_;
    delete harbor_;
  }

  // One request as curl sent it: anonymous, or with the admin's Basic credentials.
  static registry::HttpResponse ask(const std::string& method, const std::string& path, bool signed_in,
                                    const std::string& body = {}) {
    registry::HttpOptions o;
    o.plain_http = true;
    registry::HttpClient http(o);
    registry::HttpRequest req;
    req.method = method;
    req.url = harbor_->url() + path;
    req.follow_redirects = false;
    if (signed_in)
      req.authorization = "Basic " + util::base64_encode(harbor_->admin_user() + ":" + harbor_->admin_password());
    if (!body.empty()) {
      req.headers = {"Content-Type: application/json"};
      req.body = [&body] { return std::make_unique<io::MemorySource>(body); };
      req.body_size = body.size();
    }
    registry::HttpResponse r = http.send(req);
    EXPECT_FALSE(r.failed()) << r.error;
    return r;
  }

  static HarborLike* harbor_;
  static oci::Digest* alpine_;
};

HarborLike* StandIn::harbor_ = nullptr;
oci::Digest* StandIn::alpine_ = nullptr;

TEST_F(StandIn, AnonymousSystemInfoHasNoVersion) {
  auto r = ask("GET", "/api/v2.0/systeminfo", false);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("content-length"), "120");
  EXPECT_EQ(r.body,
            "{\"auth_mode\":\"db_auth\",\"banner_message\":\"\",\"oidc_provider_name\":\"\",\"primary_auth_mode\":false,"
            "\"self_registration\":false}\n");
}

TEST_F(StandIn, AuthenticatedSystemInfoHasTheVersion) {
  auto r = ask("GET", "/api/v2.0/systeminfo", true);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json");
  auto doc = nlohmann::json::parse(r.body);
  std::vector<std::string> keys;
  for (const auto& [k, v] : doc.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"auth_mode", "banner_message", "current_time", "external_url",
                                            "harbor_version", "has_ca_root", "notification_enable", "oidc_provider_name",
                                            "primary_auth_mode", "project_creation_restriction", "read_only",
                                            "registry_storage_provider_name", "registry_url", "self_registration"}));
  EXPECT_EQ(doc["harbor_version"], "v2.15.2-080b0220");
  EXPECT_EQ(doc["external_url"], harbor_->url());
  EXPECT_EQ(doc["registry_url"], harbor_->host());
  // A wrong password gets the anonymous answer, as from Harbor (its security context falls back).
  registry::HttpOptions o;
  o.plain_http = true;
  registry::HttpClient http(o);
  registry::HttpRequest req;
  req.url = harbor_->url() + "/api/v2.0/systeminfo";
  req.authorization = "Basic " + util::base64_encode(harbor_->admin_user() + ":wrong");
  EXPECT_FALSE(nlohmann::json::parse(http.send(req).body).contains("harbor_version"));
}

TEST_F(StandIn, PingSaysPong) {
  auto r = ask("GET", "/api/v2.0/ping", false);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/plain");
  EXPECT_EQ(r.header("content-length"), "4");
  EXPECT_EQ(r.body, "Pong");
}

TEST_F(StandIn, AnonymousV2IsABearerChallenge) {
  auto r = ask("GET", "/v2/", false);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("content-type"), "application/json; charset=utf-8");
  EXPECT_EQ(r.header("docker-distribution-api-version"), "registry/2.0");
  EXPECT_EQ(r.header("www-authenticate"), "Bearer realm=\"" + harbor_->url() + "/service/token\",service=\"harbor-registry\"");
  EXPECT_EQ(r.header("content-length"), "76");
  EXPECT_EQ(r.body, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"unauthorized: unauthorized\"}]}\n");
}

TEST_F(StandIn, V2TakesBasicCredentials) {
  auto r = ask("GET", "/v2/", true);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-length"), "2");
  EXPECT_EQ(r.header("content-type"), "application/json; charset=utf-8");
  EXPECT_EQ(r.header("docker-distribution-api-version"), "registry/2.0");
  EXPECT_EQ(r.body, "{}");
}

TEST_F(StandIn, TagListOfAnUnknownRepositoryIsNotFound) {
  auto r = ask("GET", "/v2/hh1/no/such/tags/list", true);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("content-type"), "application/json; charset=utf-8");
  EXPECT_EQ(r.header("content-length"), "79");
  EXPECT_EQ(r.body, "{\"errors\":[{\"code\":\"NOT_FOUND\",\"message\":\"repository hh1/no/such not found\"}]}\n");
}

TEST_F(StandIn, HeadOfAManifestInAnUnknownRepository) {
  auto r = ask("HEAD", "/v2/hh1/no/such/manifests/latest", true);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("content-type"), "application/json; charset=utf-8");
  EXPECT_EQ(r.header("content-length"), "79");
  EXPECT_EQ(r.body, "");
}

TEST_F(StandIn, GetOfAManifestInAnUnknownRepository) {
  auto r = ask("GET", "/v2/hh1/no/such/manifests/latest", true);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("content-type"), "application/json; charset=utf-8");
  EXPECT_EQ(r.header("content-length"), "79");
  EXPECT_EQ(r.body, "{\"errors\":[{\"code\":\"NOT_FOUND\",\"message\":\"repository hh1/no/such not found\"}]}\n");
}

TEST_F(StandIn, HeadOfAnUnknownBlob) {
  auto r = ask("HEAD", "/v2/hh1/library/alpine/blobs/" + kZeroDigest, true);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("content-type"), "application/json; charset=utf-8");
  EXPECT_EQ(r.header("content-length"), "133");
  EXPECT_EQ(r.body, "");
}

TEST_F(StandIn, ReferrersOfAnUnknownSubjectAreAnEmptyIndex) {
  auto r = ask("GET", "/v2/hh1/library/alpine/referrers/" + kZeroDigest, true);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/vnd.oci.image.index.v1+json");
  EXPECT_EQ(r.header("x-total-count"), "0");
  EXPECT_EQ(r.header("content-length"), "89");
  EXPECT_EQ(r.body, "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[]}\n");
}

TEST_F(StandIn, TagListInAMissingProjectIsA401WithAnEmptyChallenge) {
  auto r = ask("GET", "/v2/noproject/x/tags/list", true);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("content-type"), "application/json; charset=utf-8");
  EXPECT_EQ(r.header("docker-distribution-api-version"), "registry/2.0");
  EXPECT_TRUE(r.has_header("www-authenticate"));
  EXPECT_EQ(r.header("www-authenticate"), "");
  EXPECT_EQ(r.header("content-length"), "106");
  EXPECT_EQ(r.body,
            "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"project noproject not found: project noproject not "
            "found\"}]}\n");
}

TEST_F(StandIn, GetOfAMissingProjectIsNotFound) {
  auto r = ask("GET", "/api/v2.0/projects/noproject", true);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("content-type"), "application/json; charset=utf-8");
  EXPECT_EQ(r.header("content-length"), "74");
  EXPECT_EQ(r.body, "{\"errors\":[{\"code\":\"NOT_FOUND\",\"message\":\"project noproject not found\"}]}\n");
}

TEST_F(StandIn, HeadOfAnExistingProject) {
  auto r = ask("HEAD", "/api/v2.0/projects?project_name=hh1", true);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
}

TEST_F(StandIn, HeadOfAMissingProject) {
  auto r = ask("HEAD", "/api/v2.0/projects?project_name=noproject", true);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("content-type"), "application/json; charset=utf-8");
  EXPECT_EQ(r.header("content-length"), "74");
  EXPECT_EQ(r.body, "");
}

TEST_F(StandIn, PostOfAnExistingProjectIsAConflict) {
  auto r = ask("POST", "/api/v2.0/projects", true, R"({"project_name":"hh1","metadata":{"public":"false"}})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.header("content-type"), "application/json; charset=utf-8");
  EXPECT_EQ(r.header("content-length"), "82");
  EXPECT_EQ(r.body, "{\"errors\":[{\"code\":\"CONFLICT\",\"message\":\"The project named hh1 already exists\"}]}\n");
}

TEST_F(StandIn, AnonymousTokenHasNoAccess) {
  auto r = ask("GET", "/service/token?service=harbor-registry&scope=repository:hh1/library/alpine:pull", false);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json; charset=utf-8");
  auto doc = nlohmann::json::parse(r.body);
  std::vector<std::string> keys;
  for (const auto& [k, v] : doc.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"access_token", "expires_in", "issued_at", "token"}));
  EXPECT_EQ(doc["access_token"], "");
  EXPECT_EQ(doc["expires_in"], 1800);
  // A JWT whose access list is empty for an anonymous caller (hh1 is private).
  std::string token = doc["token"].get<std::string>();
  ASSERT_EQ(std::count(token.begin(), token.end(), '.'), 2) << token;
  auto jwt = jwt_claims(token);
  ASSERT_EQ(jwt["access"].size(), 1u) << jwt.dump();
  EXPECT_TRUE(jwt["access"][0]["actions"].empty()) << jwt.dump();
}

TEST_F(StandIn, ArtifactListShowsTheSignaturesAsAccessories) {
  auto r = ask("GET", "/api/v2.0/projects/hh1/repositories/library%252Falpine/artifacts?with_accessory=true", true);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("x-total-count"), "1");
  auto list = nlohmann::json::parse(r.body);
  ASSERT_EQ(list.size(), 1u) << r.body;
  const auto& index = list[0];
  EXPECT_EQ(index["digest"], alpine_->str());
  EXPECT_EQ(index["type"], "IMAGE");
  EXPECT_EQ(index["manifest_media_type"], "application/vnd.oci.image.index.v1+json");
  EXPECT_EQ(index["media_type"], "application/vnd.oci.image.index.v1+json");
  EXPECT_EQ(index["repository_name"], "hh1/library/alpine");
  ASSERT_EQ(index["tags"].size(), 1u);
  EXPECT_EQ(index["tags"][0]["name"], "3.19");
  ASSERT_EQ(index["references"].size(), 2u);
  EXPECT_EQ(index["references"][0]["platform"]["architecture"], "amd64");
  // cosign's .sig and the Sigstore bundle: both signature.cosign from Harbor 2.15 on.
  ASSERT_EQ(index["accessories"].size(), 2u) << index.dump();
  for (const auto& a : index["accessories"]) {
    EXPECT_EQ(a["type"], "signature.cosign") << a.dump();
    EXPECT_EQ(a["subject_artifact_digest"], alpine_->str());
    EXPECT_EQ(a["subject_artifact_repo"], "hh1/library/alpine");
  }
}

// What changed between releases: harbor_version for anonymous callers until 2.12 (goharbor/harbor
// #21672 removed it in 2.13); a Sigstore bundle referrer is a plain accessory until 2.14 (#22628).
TEST(StandInReleases, OlderHarborsAnswerAsTheyDid) {
  HarborLikeOptions v212;
  v212.version = "v2.12.2-73072d0d";
  HarborLike old(v212);
  registry::HttpOptions o;
  o.plain_http = true;
  registry::HttpClient http(o);
  registry::HttpRequest req;
  req.url = old.url() + "/api/v2.0/systeminfo";
  EXPECT_EQ(nlohmann::json::parse(http.send(req).body)["harbor_version"], "v2.12.2-73072d0d");

  HarborLikeOptions v214;
  v214.version = "v2.14.1-3a72a95e";
  v214.projects = {"hh1"};
  HarborLike h(v214);
  req.url = h.url() + "/api/v2.0/systeminfo";
  EXPECT_FALSE(nlohmann::json::parse(http.send(req).body).contains("harbor_version"));
  push_alpine(h);
  req.url = h.url() + "/api/v2.0/projects/hh1/repositories/library%252Falpine/artifacts?with_accessory=true";
  req.authorization = "Basic " + util::base64_encode(h.admin_user() + ":" + h.admin_password());
  auto list = nlohmann::json::parse(http.send(req).body);
  ASSERT_EQ(list.size(), 1u);
  std::multiset<std::string> types;
  for (const auto& a : list[0]["accessories"]) types.insert(a["type"].get<std::string>());
  EXPECT_EQ(types, (std::multiset<std::string>{"signature.cosign", "subject.accessory"})) << list.dump();
}

}  // namespace
}  // namespace sealift::testenv
