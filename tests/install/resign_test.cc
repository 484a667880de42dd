// `sealift-install push --resign-key` (issue 16): after the vendor's signatures are verified and
// pushed, every image and the chart is signed with the site's key under its relocated name, in
// every signature form the push writes. Checked with the real cosign v2 and v3 at the target, in
// the Harbor stand-in, Debian's docker-registry (no referrers API) and ociregistry (with it), with
// keys from `sealift-bundle keygen` and from `cosign generate-key-pair`.
#include <algorithm>

#include "env/registry.h"
#include "harness.h"
#include "install/push.h"
#include "install/relocation.h"
#include "install/verify.h"
#include "ref/reference.h"
#include "sign/password.h"
#include "sign/sigmanifest.h"
#include "util/error.h"

namespace sealift::install::testing {
namespace {

fs::path scratch(const std::string& name) {
  static testenv::TempDir dir("sealift-resign-test");
  return dir / name;
}

// A site key made by cosign itself (its own encrypted key format), password "site-pw".
fs::path cosign_site_key() {
  static const fs::path pub = [] {
    fs::path dir = scratch("cosign-site");
    fs::create_directories(dir);
    RunResult r = testenv::run({testenv::peer("cosign"), "generate-key-pair", "--output-key-prefix", (dir / "site").string()},
                               {{"COSIGN_PASSWORD", "site-pw"}});
    EXPECT_EQ(r.exit_code, 0) << said(r);
    return dir / "site.pub";
  }();
  return pub;
}

fs::path private_of(const fs::path& pub) {
  return pub.filename() == "cosign.pub" ? pub.parent_path() / "cosign.key" : fs::path(pub).replace_extension(".key");
}

std::vector<std::string> resign_args(const fs::path& pub) { return {"--resign-key", private_of(pub).string()}; }

// The docker-references of the `.sig` payloads cosign v3 (legacy form) verifies with `key`.
std::vector<std::string> verified_references(const RunResult& r) {
  std::vector<std::string> out;
  if (r.exit_code != 0) return out;
  for (const auto& s : nlohmann::json::parse(r.out)) out.push_back(s["critical"]["identity"]["docker-reference"]);
  return out;
}

TEST(Resign, EveryImageInHarborVerifiesWithTheSiteKeyAndStillWithTheVendors) {
  const auto& b = full_bundle();
  Target target;
  const fs::path site = factory().other_key("site");
  const size_t objects = b.lock.images.size() + 1;

  // A wrong password is refused before the registry hears a word: nothing lands.
  auto env = target.env();
  env["COSIGN_PASSWORD"] = "not-the-password";
  std::vector<std::string> args = {"push", b.path.string(), "--key", factory().public_key().string(), "--registry",
                                   target.host(), "--project", "ai-saas", "--plain-http", "--create-project"};
  for (const auto& a : resign_args(site)) args.push_back(a);
  RunResult wrong = install(args, env);
  EXPECT_NE(wrong.exit_code, 0) << said(wrong);
  EXPECT_NE(wrong.err.find(private_of(site).string()), std::string::npos) << said(wrong);
  EXPECT_NE(wrong.err.find("password"), std::string::npos) << said(wrong);
  EXPECT_EQ(target.harbor().request_log().find("/v2/"), std::string::npos) << target.harbor().request_log();
  EXPECT_EQ(target.harbor().count_requests("POST", "/api/v2.0/projects"), 0u);

  // --resign-password-file without --resign-key is a usage error.
  RunResult lone = target.push(b.path, {"--resign-password-file", "/nonexistent"});
  EXPECT_EQ(lone.exit_code, 2) << said(lone);

  env["COSIGN_PASSWORD"] = factory().key_password();
  auto push = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> a = {"push", b.path.string(), "--key", factory().public_key().string(), "--registry",
                                  target.host(), "--project", "ai-saas", "--plain-http", "--json"};
    a.insert(a.end(), extra.begin(), extra.end());
    for (const auto& x : resign_args(site)) a.push_back(x);
    RunResult r = install(a, env);
    EXPECT_EQ(r.exit_code, 0) << said(r);
    return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
  };
  nlohmann::json first = push({"--create-project"});
  EXPECT_EQ(first["siteSignaturesAdded"].get<size_t>(), 2 * objects) << ".sig and Sigstore bundle, each image and the chart";
  EXPECT_EQ(first["siteSignaturesVerified"].get<size_t>(), 2 * objects);
  EXPECT_EQ(first["signaturesVerified"].get<size_t>(), objects);

  bundle::Root root = root_of(b.path);
  for (const auto& image : root.images) {
    ref::Reference source = ref::Reference::parse(image.source);
    const std::string repository = target.host() + "/ai-saas/" + source.repository;
    const std::string by_tag = repository + ":" + source.tag;
    for (const std::string cosign : {"cosign", "cosign3", "cosign3-legacy"}) {
      RunResult s = target.cosign_verify(by_tag, site, cosign);
      EXPECT_EQ(s.exit_code, 0) << cosign << " site " << by_tag << "\n" << said(s);
      RunResult v = target.cosign_verify(by_tag, factory().public_key(), cosign);
      EXPECT_EQ(v.exit_code, 0) << cosign << " vendor " << by_tag << "\n" << said(v);
    }
    // The site signed the image under its name here; the vendor's signature keeps the source name.
    EXPECT_EQ(verified_references(target.cosign_verify(by_tag, site, "cosign3-legacy")),
              std::vector<std::string>{repository});
    EXPECT_EQ(verified_references(target.cosign_verify(by_tag, factory().public_key(), "cosign3-legacy")),
              std::vector<std::string>{source.name()});
  }
  const std::string chart = target.host() + "/ai-saas/charts/sealift-test-app:1.0.0";
  EXPECT_EQ(target.cosign_verify(chart, site, "cosign3").exit_code, 0);

  // A re-run adds no second site signature in either form.
  const auto& redis = root.images.front();
  const std::string redis_repo = "ai-saas/" + ref::Reference::parse(redis.source).repository;
  auto sig_layers = [&] {
    return sign::SignatureManifest::parse(target.client().get_manifest(redis_repo, redis.digest.tag_form() + ".sig").bytes())
        .layers()
        .size();
  };
  auto referrers = [&] { return target.client().referrers(redis_repo, redis.digest)->manifests().size(); };
  EXPECT_EQ(sig_layers(), 2u);
  EXPECT_EQ(referrers(), 2u);
  size_t puts = target.harbor().count_requests("PUT", "/v2/");
  nlohmann::json again = push({});
  EXPECT_EQ(again["siteSignaturesAdded"].get<size_t>(), 0u);
  EXPECT_EQ(again["siteSignaturesVerified"].get<size_t>(), 2 * objects);
  EXPECT_EQ(target.harbor().count_requests("PUT", "/v2/"), puts) << "a re-run wrote something";
  EXPECT_EQ(sig_layers(), 2u);
  EXPECT_EQ(referrers(), 2u);

  // A key the site did not sign with is refused by cosign: the check can fail.
  EXPECT_NE(target.cosign_verify(chart, factory().other_key("stranger"), "cosign3").exit_code, 0);
}

// Review 2026-12-07 M1: the site's key must not launder a bundle nobody verified. A bundle signed
// by a stranger, pushed with --insecure-skip-signature and --resign-key, would otherwise reach the
// cluster signed by the key its admission policy trusts.
TEST(Resign, RefusedWithInsecureSkipSignature) {
  testenv::BundleSpec spec;
  spec.images = {"redis"};
  spec.signing_key = factory().other_key("stranger").parent_path() / "cosign.key";
  auto b = factory().build(spec, scratch("stranger.tar.zst"));
  Target target;
  target.harbor().create_project("ai-saas");
  const fs::path site = factory().other_key("site");

  // The command line: a usage error before any password is asked or the registry hears a word.
  const std::string log_at_start = target.harbor().request_log();
  auto env = target.env();
  env["COSIGN_PASSWORD"] = factory().key_password();
  for (const std::string command : {"push", "install"}) {
    SCOPED_TRACE(command);
    std::vector<std::string> args = {command, b.path.string(), "--insecure-skip-signature", "--registry", target.host(),
                                     "--project", "ai-saas", "--plain-http"};
    for (const auto& a : resign_args(site)) args.push_back(a);
    RunResult r = install(args, env);
    EXPECT_EQ(r.exit_code, 2) << said(r);
    EXPECT_NE(r.err.find("--resign-key with --insecure-skip-signature"), std::string::npos) << said(r);
  }
  EXPECT_EQ(target.harbor().request_log(), log_at_start) << "the registry was contacted";
  const std::string image = target.host() + "/ai-saas/library/redis:" + b.lock.images.at(0).source.tag;
  EXPECT_NE(target.cosign_verify(image, site, "cosign3-legacy").exit_code, 0) << "the site signed the stranger's bundle";
  EXPECT_TRUE(target.tags("ai-saas/library/redis").empty());

  // The push itself, for any caller: the same bundle verified with the insecure flag (warnings,
  // no signature) is refused before the target is contacted.
  bundle::ArchiveReader reader(b.path);
  util::Progress quiet(util::Progress::Mode::Quiet);
  VerifyOptions insecure;
  insecure.insecure_skip_signature = true;
  const sign::TrustedKeys none;
  VerifiedBundle verified = verify_bundle(reader, none, insecure, quiet);
  ASSERT_FALSE(verified.signature_verified);
  ASSERT_FALSE(verified.warnings.empty());
  Relocation relocation = relocate(verified.root, verified.lock, {target.host(), "ai-saas", false});
  registry::RegistryOptions ro;
  ro.http.plain_http = true;
  ro.credentials = {target.harbor().admin_user(), target.harbor().admin_password(), "test"};
  registry::RegistryClient client(target.host(), ro);
  const sign::PrivateKey site_key =
      sign::PrivateKey::from_file(site.parent_path() / "cosign.key", sign::Secret::copy_of(factory().key_password()));
  PushOptions po;
  po.resign_key = &site_key;
  const std::string log_before = target.harbor().request_log();
  try {
    push_bundle(reader, verified, relocation, client, nullptr, none, po, quiet);
    ADD_FAILURE() << "pushed and re-signed an unverified bundle";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Integrity) << e.what();
    EXPECT_NE(std::string(e.what()).find("the site key signs only a bundle whose vendor signature verified"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(target.harbor().request_log(), log_before) << "the registry was contacted";
  EXPECT_TRUE(target.tags("ai-saas/library/redis").empty());
}

// The same on registries that are not Harbor, with a key cosign generated itself: ociregistry
// indexes the referrers, docker-registry 2.8 gets the referrers tag; with --signature-format
// legacy only the `.sig` form carries the site's signature.
class ResignOn : public ::testing::TestWithParam<testenv::RegistryKind> {};

TEST_P(ResignOn, AnyRegistryWithACosignGeneratedKey) {
  testenv::BundleSpec spec;
  spec.images = {"redis", "backend"};
  auto b = factory().build(spec, scratch("plain.tar.zst"));
  const fs::path site = cosign_site_key();
  ASSERT_TRUE(fs::exists(private_of(site)));
  testenv::TempDir home("sealift-resign-client");
  util::write_file_atomic(home / "config.json", "{}", 0600);

  for (const bool legacy : {false, true}) {
    SCOPED_TRACE(legacy ? "legacy" : "both");
    testenv::RegistryOptions o;
    o.kind = GetParam();
    testenv::Registry registry(o);
    const fs::path password = scratch("site-password");
    util::write_file_atomic(password, "site-pw\n", 0600);
    std::vector<std::string> args = {"push", b.path.string(), "--key", factory().public_key().string(), "--registry",
                                     registry.host(), "--project", "ai-saas", "--plain-http", "--json",
                                     "--resign-key", private_of(site).string(), "--resign-password-file",
                                     password.string()};
    if (legacy) args.insert(args.end(), {"--signature-format", "legacy"});
    RunResult r = install(args, {{"DOCKER_CONFIG", home.path().string()}, {"COSIGN_PASSWORD", "wrong-but-unused"}});
    ASSERT_EQ(r.exit_code, 0) << said(r);
    nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["siteSignaturesAdded"].get<size_t>(), (legacy ? 1 : 2) * (spec.images.size() + 1)) << r.out;
    EXPECT_EQ(j["siteSignaturesVerified"].get<size_t>(), (legacy ? 1 : 2) * (spec.images.size() + 1));

    for (const auto& image : b.lock.images) {
      const std::string ref = registry.host() + "/ai-saas/" + image.source.repository + ":" + image.source.tag;
      // Without any bundle referrer cosign v2 reads the .sig form, so it checks the same there.
      std::vector<std::string> peers = {"cosign", "cosign3-legacy"};
      if (!legacy) peers.push_back("cosign3");
      for (const auto& cosign : peers) {
        for (const fs::path& key : {site, factory().public_key()}) {
          RunResult v = cosign_verify_offline(ref, key, cosign, home.path());
          EXPECT_EQ(v.exit_code, 0) << cosign << " " << key << " " << ref << "\n" << said(v);
        }
        RunResult stranger = cosign_verify_offline(ref, factory().other_key("stranger"), cosign, home.path());
        EXPECT_NE(stranger.exit_code, 0) << cosign << " accepted a key that signed nothing: " << said(stranger);
      }
    }
    if (legacy) {
      registry::RegistryOptions ro;
      ro.http.plain_http = true;
      registry::RegistryClient client(registry.host(), ro);
      const auto& redis = b.lock.images.front();
      auto listed = client.list_tags("ai-saas/" + redis.source.repository);
      EXPECT_EQ(std::count(listed.begin(), listed.end(), redis.digest.tag_form()), 0) << "a referrers tag in legacy mode";
      EXPECT_FALSE(client.referrers("ai-saas/" + redis.source.repository, redis.digest).has_value() &&
                   !client.referrers("ai-saas/" + redis.source.repository, redis.digest)->manifests().empty())
          << "a referrer in legacy mode";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Registries, ResignOn,
                         ::testing::Values(testenv::RegistryKind::Distribution28, testenv::RegistryKind::OciRegistry),
                         [](const auto& info) {
                           return info.param == testenv::RegistryKind::OciRegistry ? std::string("ociregistry")
                                                                                   : std::string("docker_registry");
                         });

}  // namespace
}  // namespace sealift::install::testing
