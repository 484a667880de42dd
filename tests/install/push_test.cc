// `sealift-install push` into a Harbor-like target (real docker-registry behind a token service and
// project API), checked with the real crane and cosign: what lands there, what is refused, and
// how a push recovers from a registry that dies half-way.
#include "install/push.h"

#include <algorithm>
#include <atomic>

#include <fmt/format.h>

#include "env/fault_proxy.h"
#include "env/softhsm.h"
#include "harbor/api.h"
#include "harness.h"
#include "install/relocation.h"
#include "install/verify.h"
#include "sign/key.h"
#include "sign/password.h"
#include "sign/sigstore_bundle.h"
#include "util/encoding.h"
#include "util/error.h"

namespace sealift::install::testing {
namespace {

fs::path scratch(const std::string& name) {
  static testenv::TempDir dir("sealift-push-test");
  return dir / name;
}

registry::HttpOptions plain_http() {
  registry::HttpOptions o;
  o.plain_http = true;
  return o;
}

nlohmann::json pushed(const RunResult& r) {
  EXPECT_EQ(r.exit_code, 0) << said(r);
  return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

// Every repository the default relocation of `b` pushes to, with the tags it must end up with.
std::map<std::string, std::vector<std::string>> expected_tags(const testenv::BuiltBundle& b) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& image : b.lock.images)
    out["ai-saas/" + image.source.repository].push_back(image.source.tag);
  out["ai-saas/charts/sealift-test-app"].push_back("1.0.0");
  return out;
}

TEST(Push, IntoAHarborProjectThatCosignThenVerifies) {
  const auto& b = full_bundle();
  Target target;

  // The project must exist, or be created on request; a dry run changes nothing.
  RunResult missing = target.push(b.path);
  EXPECT_EQ(missing.exit_code, 6) << said(missing);
  EXPECT_NE(missing.err.find("project \"ai-saas\" does not exist"), std::string::npos) << said(missing);
  EXPECT_NE(missing.err.find("--create-project"), std::string::npos);

  nlohmann::json plan = pushed(target.push(b.path, {"--create-project", "--dry-run"}));
  ASSERT_TRUE(plan.contains("plan")) << plan.dump();
  EXPECT_NE(plan["plan"][0].get<std::string>().find("create project \"ai-saas\""), std::string::npos);
  EXPECT_EQ(plan["plan"].size(), b.lock.images.size() + 2);
  EXPECT_EQ(target.harbor().count_requests("POST", "/api/v2.0/projects"), 0u);
  EXPECT_EQ(target.harbor().count_requests("PUT", "/v2/"), 0u);

  RunResult first_push = target.push(b.path, {"--create-project", "--jobs", "3"});
  EXPECT_EQ(first_push.err.find("older than 2.15"), std::string::npos) << said(first_push);
  nlohmann::json first = pushed(first_push);
  EXPECT_TRUE(first["projectCreated"].get<bool>());
  EXPECT_GT(first["blobsUploaded"].get<int>(), 10);
  EXPECT_GT(first["blobsMounted"].get<int>(), 0) << "shared base layers are mounted, not sent twice";
  EXPECT_EQ(first["tagsWritten"].get<size_t>(), b.lock.images.size() + 1);
  EXPECT_EQ(first["signaturesVerified"].get<size_t>(), b.lock.images.size() + 1);
  // Harbor (2.8 and later) has the referrers API: it indexes each referrer, no referrers tag needed.
  EXPECT_EQ(first["referrersPushed"].get<size_t>(), b.lock.images.size() + 1);
  EXPECT_EQ(first["referrersTagged"].get<size_t>(), 0u);
  EXPECT_EQ(first["referrersVerified"].get<size_t>(), b.lock.images.size() + 1);

  // Every image by its tag, with the bundle's digest, its .sig beside it and its referrer listed;
  // cosign v2 and v3 agree (each reads the Sigstore bundle), and cosign v3 also reads the .sig.
  bundle::Root root = root_of(b.path);
  for (const auto& image : root.images) {
    ref::Reference source = ref::Reference::parse(image.source);
    std::string repository = target.host() + "/ai-saas/" + source.repository;
    EXPECT_EQ(target.crane_digest(repository + ":" + source.tag), image.digest.str()) << image.source;
    EXPECT_EQ(target.crane_digest(repository + ":" + image.digest.tag_form() + ".sig"), image.signature.str());
    std::optional<oci::Manifest> listed = target.client().referrers("ai-saas/" + source.repository, image.digest);
    ASSERT_TRUE(listed);
    const oci::Manifest& referrers = *listed;
    ASSERT_EQ(referrers.manifests().size(), 1u) << referrers.bytes();
    EXPECT_EQ(referrers.manifests()[0].digest, image.referrer);
    EXPECT_EQ(referrers.manifests()[0].artifact_type, "application/vnd.dev.sigstore.bundle.v0.3+json");
    EXPECT_EQ(referrers.manifests()[0].annotations.at("dev.sigstore.bundle.predicateType"), "https://sigstore.dev/cosign/sign/v1");
    for (const std::string cosign : {"cosign", "cosign3", "cosign3-legacy"}) {
      RunResult ok = target.cosign_verify(repository + "@" + image.digest.str(), factory().public_key(), cosign);
      EXPECT_EQ(ok.exit_code, 0) << cosign << " " << image.source << "\n" << said(ok);
      RunResult stranger = target.cosign_verify(repository + "@" + image.digest.str(), factory().other_key("stranger"), cosign);
      EXPECT_NE(stranger.exit_code, 0) << cosign << " accepted a key that signed nothing";
    }
  }
  std::string chart = target.host() + "/ai-saas/charts/sealift-test-app";
  EXPECT_EQ(target.crane_digest(chart + ":1.0.0"), root.chart.manifest.str());
  for (const std::string cosign : {"cosign", "cosign3", "cosign3-legacy"}) {
    RunResult chart_cosign = target.cosign_verify(chart + "@" + root.chart.manifest.str(), factory().public_key(), cosign);
    EXPECT_EQ(chart_cosign.exit_code, 0) << cosign << "\n" << said(chart_cosign);
  }

  // A dry run against the complete target finds nothing to do, and does nothing.
  size_t puts = target.harbor().count_requests("PUT", "/v2/");
  nlohmann::json nothing = pushed(target.push(b.path, {"--dry-run"}));
  ASSERT_EQ(nothing["plan"].size(), b.lock.images.size() + 1);
  for (const auto& line : nothing["plan"]) {
    EXPECT_NE(line.get<std::string>().find(": 0 of "), std::string::npos) << line;
    EXPECT_NE(line.get<std::string>().find("tag unchanged; signature unchanged"), std::string::npos) << line;
  }
  EXPECT_EQ(target.harbor().count_requests("PUT", "/v2/"), puts);

  // Pushing again moves nothing, and asks about no blob: every tag is at the bundle's digest, so
  // what is under it is complete.
  size_t blob_heads = target.harbor().count_requests("HEAD", "/blobs/");
  nlohmann::json again = pushed(target.push(b.path));
  EXPECT_EQ(target.harbor().count_requests("HEAD", "/blobs/"), blob_heads);
  EXPECT_FALSE(again["projectCreated"].get<bool>());
  EXPECT_EQ(again["blobsUploaded"].get<int>(), 0);
  EXPECT_EQ(again["bytesUploaded"].get<int>(), 0);
  EXPECT_EQ(again["manifestsPushed"].get<int>(), 0);
  EXPECT_EQ(again["tagsWritten"].get<int>(), 0);
  EXPECT_EQ(again["tagsUnchanged"].get<size_t>(), b.lock.images.size() + 1);

  // A bundle signed through a PKCS#11 token (SoftHSM2, the key never out of it): the push
  // verifies it with the token's public key, and cosign v2 and v3 accept its signatures here.
  testenv::SoftHsm hsm;
  const fs::path hsm_pub = hsm.import_key("vendor", "P-256", "01");
  testenv::BundleSpec spec;
  spec.images = {"redis"};
  spec.chart_version = "1.0.1";
  spec.signing_key = hsm.uri("vendor");
  spec.build_args = {"--pkcs11-module", testenv::SoftHsm::kModule, "--pin-file", hsm.pin_file().string()};
  const auto hb = factory().build(spec, scratch("hsm.tar.zst"));
  EXPECT_EQ(pushed(target.push(hb.path, {}, hsm_pub))["signaturesVerified"].get<size_t>(), 2u);
  const bundle::Root hsm_root = root_of(hb.path);
  for (const std::string cosign : {"cosign", "cosign3", "cosign3-legacy"}) {
    for (const auto& image : hsm_root.images) {
      std::string pinned = target.host() + "/ai-saas/" + ref::Reference::parse(image.source).repository + "@" + image.digest.str();
      RunResult ok = target.cosign_verify(pinned, hsm_pub, cosign);
      EXPECT_EQ(ok.exit_code, 0) << cosign << " " << image.source << "\n" << said(ok);
    }
    RunResult chart_ok = target.cosign_verify(chart + "@" + hsm_root.chart.manifest.str(), hsm_pub, cosign);
    EXPECT_EQ(chart_ok.exit_code, 0) << cosign << "\n" << said(chart_ok);
  }
}

TEST(Push, AlteredOrWronglySignedBundlesPushNothing) {
  const auto& b = full_bundle();
  Target target;
  target.harbor().create_project("ai-saas");
  bundle::Root root = root_of(b.path);
  bundle::ArchiveReader reader(b.path);
  oci::Manifest postgres = oci::Manifest::parse(reader.read_small(bundle::blob_path(root.images.front().digest)),
                                                root.images.front().media_type);
  std::string config = bundle::blob_path(
      oci::Manifest::parse(reader.read_small(bundle::blob_path(postgres.manifests().at(0).digest)),
                           postgres.manifests().at(0).media_type)
          .config()
          .digest);
  // The signature, the documents and the configs are checked before anything moves.
  const std::map<std::string, std::string> alterations = {
      {bundle::blob_path(root.images.back().digest), flipped(entry_text(b.path, bundle::blob_path(root.images.back().digest)), 60)},
      {config, flipped(entry_text(b.path, config), 20)},
      {"sealift.json", flipped(entry_text(b.path, "sealift.json"), 80)},
      {"sealift.json.sig", flipped(entry_text(b.path, "sealift.json.sig"), 10)},
  };
  for (const auto& [entry, content] : alterations) {
    SCOPED_TRACE(entry);
    fs::path tampered = scratch("tampered.tar.zst");
    testenv::rewrite_bundle(b.path, tampered, {{entry, content}});
    RunResult r = target.push(tampered);
    EXPECT_EQ(r.exit_code, 4) << said(r);
    EXPECT_NE(r.err.find(entry), std::string::npos) << said(r);
  }
  RunResult wrong_key = target.push(b.path, {}, factory().other_key("stranger"));
  EXPECT_EQ(wrong_key.exit_code, 4) << said(wrong_key);
  EXPECT_EQ(target.harbor().count_requests("POST", "/blobs/uploads"), 0u);

  // A layer is checked as it is sent: blobs move, but the push stops before any manifest or tag.
  std::string layer = first_layer(b.path, "docker.io/library/postgres:16.4");
  fs::path tampered = scratch("tampered-layer.tar.zst");
  testenv::rewrite_bundle(b.path, tampered, {{layer, flipped(entry_text(b.path, layer), 1000)}});
  RunResult r = target.push(tampered);
  EXPECT_EQ(r.exit_code, 4) << said(r);
  EXPECT_NE(r.err.find(layer), std::string::npos) << said(r);
  EXPECT_NE(r.err.find("docker.io/library/postgres:16.4"), std::string::npos) << said(r);
  EXPECT_FALSE(target.client().blob_exists("ai-saas/library/postgres", *bundle::blob_digest(layer)));

  EXPECT_EQ(target.harbor().count_requests("PUT", "/manifests/"), 0u);
  for (const auto& [repository, tags] : expected_tags(b)) EXPECT_TRUE(target.tags(repository).empty()) << repository;
}

// A push takes from the bundle only the layers the target lacks, and checks each as it sends it.
// A layer the target already holds is not read at all, so damage to it cannot matter: the signed
// chain (sealift.json.sig → index.json → manifests, all checked first) names the layer by digest,
// the registry stored it under that digest after checking its bytes on upload, and what the
// cluster pulls is the registry's copy. `sealift-install verify` still refuses such a bundle.
TEST(Push, ALayerIsCheckedWhenItIsSentAndOnlyThen) {
  testenv::BundleSpec spec;
  spec.images = {"redis"};
  auto b = factory().build(spec, scratch("layers.tar.zst"));
  const bundle::RootImage image = root_of(b.path).images.at(0);
  const std::string source = image.source;
  std::string layer = first_layer(b.path, source);
  oci::Digest digest = *bundle::blob_digest(layer);
  fs::path tampered = scratch("layers-tampered.tar.zst");
  testenv::rewrite_bundle(b.path, tampered, {{layer, flipped(entry_text(b.path, layer), 333)}});
  RunResult verify = install({"verify", tampered.string(), "--key", factory().public_key().string()});
  EXPECT_EQ(verify.exit_code, 4) << said(verify);
  EXPECT_NE(verify.err.find(layer), std::string::npos) << said(verify);

  // The target lacks the layer: refused, naming the entry; nothing refers to it, nothing is tagged.
  Target lacking;
  RunResult refused = lacking.push(tampered, {"--create-project", "--jobs", "2"});
  EXPECT_EQ(refused.exit_code, 4) << said(refused);
  EXPECT_NE(refused.err.find(layer), std::string::npos) << said(refused);
  EXPECT_NE(refused.err.find(source), std::string::npos) << said(refused);
  EXPECT_FALSE(lacking.client().blob_exists("ai-saas/library/redis", digest));
  EXPECT_EQ(lacking.harbor().count_requests("PUT", "/manifests/"), 0u);
  for (const auto& [repository, tags] : expected_tags(b)) EXPECT_TRUE(lacking.tags(repository).empty()) << repository;

  // The same target once it holds the genuine layer (and here the whole release): the tampered
  // copy is never read, the push completes, and the target serves the genuine bytes.
  pushed(lacking.push(b.path));
  size_t uploads = lacking.harbor().count_requests("PUT", "/blobs/uploads");
  nlohmann::json j = pushed(lacking.push(tampered));
  EXPECT_EQ(j["bytesUploaded"].get<uint64_t>(), 0u);
  EXPECT_EQ(lacking.harbor().count_requests("PUT", "/blobs/uploads"), uploads);
  EXPECT_EQ(j["signaturesVerified"].get<int>(), 2);
  oci::Descriptor d;
  d.media_type = "application/octet-stream";
  d.digest = digest;
  d.size = static_cast<int64_t>(entry_text(b.path, layer).size());
  oci::HashingSink genuine;
  EXPECT_NO_THROW(lacking.client().fetch_blob("ai-saas/library/redis", d, genuine)) << "fetch_blob checks the digest";
  std::string pinned = lacking.host() + "/ai-saas/library/redis@" + image.digest.str();
  EXPECT_EQ(lacking.cosign_verify(pinned, factory().public_key()).exit_code, 0);
}

TEST(Push, APullOnlyRobotIsRefusedBeforeAnyByteMoves) {
  const auto& b = full_bundle();
  Target target;
  target.harbor().create_project("ai-saas");
  harbor::HarborApi api(target.host(), plain_http(), {target.harbor().admin_user(), target.harbor().admin_password(), "test"});
  harbor::RobotAccount robot = api.create_pull_robot("ai-saas", "cluster");
  RunResult r = install({"push", b.path.string(), "--key", factory().public_key().string(), "--registry", target.host(),
                         "--project", "ai-saas", "--plain-http"},
                        {{"SEALIFT_REGISTRY_USER", robot.name}, {"SEALIFT_REGISTRY_PASSWORD", robot.secret}});
  EXPECT_EQ(r.exit_code, 6) << said(r);
  EXPECT_NE(r.err.find("no push permission"), std::string::npos) << said(r);
  EXPECT_EQ(r.err.find(robot.secret), std::string::npos) << "the secret leaked into a message";
  EXPECT_EQ(target.harbor().count_requests("PUT", "/blobs/uploads"), 0u);
  EXPECT_EQ(target.harbor().count_requests("PATCH", "/blobs/uploads"), 0u);
  EXPECT_EQ(target.harbor().count_requests("PUT", "/manifests/"), 0u);
}

TEST(Push, AnInterruptedPushFinishesOnReRun) {
  const auto& b = full_bundle();
  Target target;
  target.harbor().create_project("ai-saas");
  bundle::ArchiveReader reader(b.path);
  sign::TrustedKeys keys = sign::TrustedKeys::from_files({factory().public_key()});
  util::Progress quiet(util::Progress::Mode::Quiet);
  VerifiedBundle verified = verify_bundle(reader, keys, {}, quiet);
  Relocation relocation = relocate(verified.root, verified.lock, {target.host(), "ai-saas", false});
  registry::Credentials admin{target.harbor().admin_user(), target.harbor().admin_password(), "test"};
  harbor::HarborApi api(target.host(), plain_http(), admin);

  uint64_t total = 0;
  for (const auto& e : reader.entries())
    if (bundle::blob_digest(e.name)) total += e.size;

  // The registry behind Harbor dies once a third of the bytes have gone out.
  std::atomic<uint64_t> sent{0};
  std::atomic<bool> killed{false};
  registry::RegistryOptions ro;
  ro.http.plain_http = true;
  ro.credentials = admin;
  ro.retry.retries = 1;
  ro.retry.initial_delay_s = 0.05;
  ro.progress = [&, seen = std::make_shared<std::map<oci::Digest, uint64_t>>(),
                 mu = std::make_shared<std::mutex>()](const oci::Digest& d, uint64_t done, uint64_t) {
    std::lock_guard lock(*mu);
    uint64_t& s = (*seen)[d];
    if (done > s) sent += done - s, s = done;
    if (sent > total / 3 && !killed.exchange(true)) target.harbor().registry().kill();
  };
  {
    registry::RegistryClient client(target.host(), ro);
    PushOptions po;
    po.jobs = 2;
    EXPECT_THROW(push_bundle(reader, verified, relocation, client, &api, keys, po, quiet), Error);
  }
  ASSERT_TRUE(killed.load());
  target.harbor().registry().start();
  for (const auto& [repository, tags] : expected_tags(b))
    EXPECT_TRUE(target.tags(repository).empty()) << "a tag was written before all content was in: " << repository;

  // Re-run: only what is missing moves, and the target ends complete.
  registry::RegistryOptions plain;
  plain.http.plain_http = true;
  plain.credentials = admin;
  registry::RegistryClient client(target.host(), plain);
  PushReport report = push_bundle(reader, verified, relocation, client, &api, keys, {}, quiet);
  EXPECT_GT(report.blobs_skipped, 0u) << "nothing survived the first attempt?";
  EXPECT_LT(report.bytes_uploaded, total);
  EXPECT_EQ(report.tags_written, b.lock.images.size() + 1);
  EXPECT_EQ(report.signatures_verified, b.lock.images.size() + 1);
  for (const auto& image : relocation.images) {
    RunResult cosign = target.cosign_verify(image.pinned(target.host()), factory().public_key());
    EXPECT_EQ(cosign.exit_code, 0) << image.source << said(cosign);
  }
}

// The same target reached as "localhost" names its token service as 127.0.0.1: another host, which
// gets the password only with --allow-token-realm.
TEST(Push, CredentialsReachAnotherHostsTokenServiceOnlyWhenAllowed) {
  const auto& b = full_bundle();
  Target target;
  target.harbor().create_project("ai-saas");
  const std::string elsewhere = "localhost:" + target.host().substr(target.host().find(':') + 1);
  std::vector<std::string> args = {"push",    b.path.string(), "--key",        factory().public_key().string(),
                                   "--registry", elsewhere,   "--project", "ai-saas", "--plain-http", "--json"};
  RunResult refused = install(args, target.env());
  EXPECT_EQ(refused.exit_code, 6) << said(refused);
  EXPECT_NE(refused.err.find("the token service of " + elsewhere + " is on another host (" + target.host() + ")"),
            std::string::npos)
      << said(refused);
  EXPECT_NE(refused.err.find("--allow-token-realm 127.0.0.1"), std::string::npos) << said(refused);
  EXPECT_EQ(target.harbor().count_requests("GET", "/service/token"), 0u);

  args.insert(args.end(), {"--allow-token-realm", "127.0.0.1"});
  nlohmann::json report = pushed(install(args, target.env()));
  EXPECT_EQ(report["tagsWritten"], b.lock.images.size() + 1) << report.dump();
}

// Tags move one by one: when one cannot be written, the error says which moved and which did not,
// the chart's tag (what helm installs from) has not moved, and a re-run moves the rest.
TEST(Push, ATagThatCannotMoveLeavesTheChartTagAndAReRunMovesTheRest) {
  const auto& b = full_bundle();
  Target target;
  target.harbor().create_project("ai-saas");
  testenv::FaultProxy proxy(std::stoi(target.host().substr(target.host().find(':') + 1)));
  bundle::ArchiveReader reader(b.path);
  sign::TrustedKeys keys = sign::TrustedKeys::from_files({factory().public_key()});
  util::Progress quiet(util::Progress::Mode::Quiet);
  VerifiedBundle verified = verify_bundle(reader, keys, {}, quiet);
  Relocation relocation = relocate(verified.root, verified.lock, {proxy.host(), "ai-saas", false});
  registry::Credentials admin{target.harbor().admin_user(), target.harbor().admin_password(), "test"};
  harbor::HarborApi api(proxy.host(), plain_http(), admin);
  registry::RegistryOptions ro;
  ro.http.plain_http = true;
  ro.credentials = admin;
  registry::RegistryClient client(proxy.host(), ro);
  ASSERT_EQ(relocation.images.size(), 4u);
  auto tag_of = [&](const RelocatedImage& i) { return proxy.host() + "/" + i.repository + ":" + i.tag; };
  const std::string chart_tag = proxy.host() + "/" + relocation.chart.repository + ":" + relocation.chart.tag;

  const RelocatedImage& refused = relocation.images[2];
  int rule = proxy.add(testenv::FaultRule::respond("PUT", "/v2/" + refused.repository + "/manifests/" + refused.tag, 400));
  try {
    push_bundle(reader, verified, relocation, client, &api, keys, {}, quiet);
    ADD_FAILURE() << "the push went through";
  } catch (const Error& e) {
    EXPECT_EQ(proxy.faults(rule), 1u);
    std::string what = e.what();
    EXPECT_NE(what.find(fmt::format("; tags moved: {}, {}; not moved: {}, {}, {}", tag_of(relocation.images[0]),
                                    tag_of(relocation.images[1]), tag_of(refused), tag_of(relocation.images[3]),
                                    chart_tag)),
              std::string::npos)
        << what;
    EXPECT_NE(e.hint().find("re-run the push"), std::string::npos) << e.hint();
  }
  // Signature tags are written before these, so each repository has one already.
  auto has_tag = [&](const std::string& repository, const std::string& tag) {
    auto tags = target.tags(repository);
    return std::find(tags.begin(), tags.end(), tag) != tags.end();
  };
  EXPECT_FALSE(has_tag(relocation.chart.repository, relocation.chart.tag)) << "the chart's tag moved before every image's";
  EXPECT_TRUE(has_tag(relocation.images[1].repository, relocation.images[1].tag));
  EXPECT_FALSE(has_tag(refused.repository, refused.tag));

  proxy.clear();
  PushReport report = push_bundle(reader, verified, relocation, client, &api, keys, {}, quiet);
  EXPECT_EQ(report.tags_unchanged, 2u);
  EXPECT_EQ(report.tags_written, 3u);
  EXPECT_EQ(report.signatures_verified, b.lock.images.size() + 1);
  EXPECT_TRUE(has_tag(relocation.chart.repository, relocation.chart.tag));
  EXPECT_TRUE(has_tag(refused.repository, refused.tag));
}

TEST(Push, ADeltaNeedsItsBaseInTheTarget) {
  const auto& [base, delta] = delta_pair();
  bundle::Root delta_root = root_of(delta.path);
  ASSERT_FALSE(delta_root.omitted_blobs.empty());

  Target target;
  target.harbor().create_project("ai-saas");
  RunResult lacking = target.push(delta.path);
  EXPECT_EQ(lacking.exit_code, 6) << said(lacking);
  EXPECT_NE(lacking.err.find("is a delta against sealift-test-app 1.0.0"), std::string::npos) << said(lacking);
  size_t n = delta_root.omitted_blobs.size();
  EXPECT_NE(lacking.err.find(fmt::format("lacks {} of the {} blobs", n, n)), std::string::npos) << said(lacking);
  for (size_t i = 0; i < std::min<size_t>(n, 20); ++i)
    EXPECT_NE(lacking.err.find(delta_root.omitted_blobs[i].str()), std::string::npos) << "not named: " << i;
  EXPECT_NE(lacking.err.find("push the base bundle"), std::string::npos);
  EXPECT_EQ(target.harbor().count_requests("PUT", "/manifests/"), 0u);

  nlohmann::json full = pushed(target.push(base.path));
  nlohmann::json update = pushed(target.push(delta.path));
  EXPECT_LT(update["bytesUploaded"].get<uint64_t>(), full["bytesUploaded"].get<uint64_t>() / 2);
  const auto& backend = delta.fixtures.image("backend");
  EXPECT_EQ(backend.tag, "1.1.0");
  std::string reference = target.host() + "/ai-saas/sealift/backend";
  EXPECT_EQ(target.crane_digest(reference + ":1.1.0"), backend.digest);
  EXPECT_EQ(target.crane_digest(reference + ":1.0.0"), base.fixtures.image("backend").digest);
  RunResult cosign = target.cosign_verify(reference + "@" + backend.digest, factory().public_key());
  EXPECT_EQ(cosign.exit_code, 0) << said(cosign);
}

// A project made for a delta whose base is not there would only be left behind empty: the check
// comes before the project is created, as in the dry run.
TEST(Push, ADeltaIntoAMissingProjectCreatesNothing) {
  const auto& delta = delta_pair().delta;
  Target target;
  RunResult lacking = target.push(delta.path, {"--create-project"});
  EXPECT_EQ(lacking.exit_code, 6) << said(lacking);
  EXPECT_NE(lacking.err.find("is a delta against sealift-test-app 1.0.0, but project \"ai-saas\" does not exist on " +
                             target.host()),
            std::string::npos)
      << said(lacking);
  EXPECT_NE(lacking.err.find("push the base bundle (sealift-test-app 1.0.0) first"), std::string::npos) << said(lacking);
  harbor::HarborApi api(target.host(), plain_http(), {target.harbor().admin_user(), target.harbor().admin_password(), "test"});
  EXPECT_FALSE(api.project_exists("ai-saas")) << "an empty project was left behind";
  EXPECT_EQ(target.harbor().count_requests("POST", "/api/v2.0/projects"), 0u);
  EXPECT_EQ(target.harbor().count_requests("PUT", "/manifests/"), 0u);
}

TEST(Push, SplitPartsOfAPlatformFilteredBundleArePushedInPlaceAndSourceHostsCanBeKept) {
  testenv::BundleSpec spec;
  spec.images = {"redis", "fluent-bit"};
  spec.split_size = "200K";
  spec.platforms = {"linux/arm64"};
  auto b = factory().build(spec, scratch("split.tar.zst"));
  ASSERT_GT(b.files.size(), 2u);
  Target target;
  pushed(target.push(b.files.front(), {"--create-project", "--keep-source-host"}));
  for (const auto& image : root_of(b.path).images) {
    // The bundle carries (and signed) a reduced index with the one platform asked for.
    EXPECT_NE(image.digest, image.upstream_digest);
    ref::Reference source = ref::Reference::parse(image.source);
    std::string reference = target.host() + "/ai-saas/" + source.registry + "/" + source.repository;
    EXPECT_EQ(target.crane_digest(reference + ":" + source.tag), image.digest.str());
    EXPECT_EQ(target.cosign_verify(reference + "@" + image.digest.str(), factory().public_key()).exit_code, 0);
    RunResult platforms = testenv::run({testenv::peer("crane"), "manifest", "--insecure", reference + ":" + source.tag},
                                       {{"DOCKER_CONFIG", target.env().at("DOCKER_CONFIG")}});
    ASSERT_EQ(platforms.exit_code, 0) << said(platforms);
    auto index = nlohmann::json::parse(platforms.out);
    ASSERT_EQ(index["manifests"].size(), 1u) << platforms.out;
    EXPECT_EQ(index["manifests"][0]["platform"]["architecture"], "arm64");
  }
  EXPECT_TRUE(target.tags("ai-saas/library/redis").empty());
}

// At the target, someone swaps the image's Sigstore bundle for an altered one: cosign v3 and v2
// refuse the image (neither falls back to the .sig while a bundle is there); a re-push lists the
// vendor's referrer again (beside the altered one, which is not its to remove) and cosign accepts.
TEST(Push, AnAlteredReferrerAtTheTargetIsRefusedAndARePushRepairsIt) {
  testenv::BundleSpec spec;
  spec.images = {"redis"};
  auto b = factory().build(spec, scratch("altered-referrer.tar.zst"));
  // Harbor before 2.8 has no referrers API (wire-formats §13.5): the referrers tag lists them.
  testenv::HarborLikeOptions v27;
  v27.version = "v2.7.4-0b76fa37";
  Target target(v27);
  pushed(target.push(b.path, {"--create-project"}));
  const std::string repo = "ai-saas/library/redis";
  const oci::Digest image = b.lock.images[0].digest;
  const std::string pinned = target.host() + "/" + repo + "@" + image.str();

  // The vendor's bundle, with one byte of its DSSE signature changed, as a referrer of its own.
  auto& c = target.client();
  oci::Manifest ours = c.get_manifest(repo, root_of(b.path).images[0].referrer.str());
  io::StringSink bundle;
  c.fetch_blob(repo, ours.layers().at(0), bundle);
  auto j = nlohmann::ordered_json::parse(bundle.out);
  std::string sig = util::base64_decode(j["dsseEnvelope"]["signatures"][0]["sig"].get<std::string>());
  sig[10] = static_cast<char>(sig[10] ^ 0x20);
  j["dsseEnvelope"]["signatures"][0]["sig"] = util::base64_encode(sig);
  const std::string altered = j.dump();
  oci::Descriptor layer{std::string(sign::kSigstoreBundleMediaType), oci::Digest::of(altered),
                        static_cast<int64_t>(altered.size()), {}, {}, {}, {}};
  c.push_blob(repo, layer, [&](uint64_t offset) {
    return std::make_unique<io::MemorySource>(std::as_bytes(std::span(altered)).subspan(offset));
  });
  auto m = nlohmann::ordered_json::parse(ours.bytes());
  m["layers"][0] = layer.to_json();
  oci::Manifest forged = oci::Manifest::parse(m.dump(), oci::media::kOciManifest);
  c.put_manifest(repo, forged.digest().str(), forged);
  oci::Descriptor entry = forged.descriptor();
  entry.artifact_type = forged.artifact_type();
  entry.annotations = forged.annotations();
  nlohmann::ordered_json index = {{"schemaVersion", 2}, {"mediaType", oci::media::kOciIndex},
                                  {"manifests", nlohmann::ordered_json::array({entry.to_json()})}};
  c.put_manifest(repo, image.tag_form(), oci::Manifest::parse(index.dump(), oci::media::kOciIndex));

  for (const std::string cosign : {"cosign", "cosign3"})
    EXPECT_NE(target.cosign_verify(pinned, factory().public_key(), cosign).exit_code, 0) << cosign << " accepted an altered bundle";

  // The push finds its referrer missing from the tag, lists it again, and reads it back.
  nlohmann::json again = pushed(target.push(b.path));
  EXPECT_EQ(again["referrersPushed"].get<int>(), 0) << "the manifest was still there";
  EXPECT_EQ(again["referrersTagged"].get<int>(), 1) << "the image's referrers tag, and not the chart's";
  for (const std::string cosign : {"cosign", "cosign3"})
    EXPECT_EQ(target.cosign_verify(pinned, factory().public_key(), cosign).exit_code, 0) << cosign;
}

TEST(Push, OverTlsTrustingOnlyTheGivenCa) {
  testenv::BundleSpec spec;
  spec.images = {"redis"};
  auto b = factory().build(spec, scratch("tls.tar.zst"));
  testenv::HarborLikeOptions options;
  options.tls = true;
  Target target(options);
  ASSERT_TRUE(target.tls());

  // Verification is on by default: an unknown CA is refused before anything is created.
  RunResult untrusted = install({"push", b.path.string(), "--key", factory().public_key().string(), "--registry",
                                 target.host(), "--project", "ai-saas", "--create-project"},
                                target.env());
  EXPECT_EQ(untrusted.exit_code, 5) << said(untrusted);
  EXPECT_NE(untrusted.err.find("the TLS certificate of " + target.host() + " is not trusted"), std::string::npos)
      << said(untrusted);
  EXPECT_NE(untrusted.err.find("pass the CA that signed it with --ca-file FILE (PEM), or set SSL_CERT_FILE"),
            std::string::npos)
      << said(untrusted);
  EXPECT_EQ(target.harbor().count_requests("POST", "/api/v2.0/projects"), 0u);

  // SSL_CERT_FILE instead of --ca-file, as for OpenSSL's own tools.
  std::map<std::string, std::string> env = target.env();
  env["SSL_CERT_FILE"] = target.harbor().ca_file().string();
  RunResult by_env = install({"push", b.path.string(), "--key", factory().public_key().string(), "--registry",
                              target.host(), "--project", "ai-saas", "--create-project", "--quiet"},
                             env);
  EXPECT_EQ(by_env.exit_code, 0) << said(by_env);

  nlohmann::json j = pushed(target.push(b.path));
  EXPECT_EQ(j["signaturesVerified"].get<int>(), 2);
  std::vector<std::string> tags = target.tags("ai-saas/library/redis");
  std::sort(tags.begin(), tags.end());
  // The image and its .sig; Harbor indexes the referrer, so no referrers tag.
  EXPECT_EQ(tags, (std::vector<std::string>{"7.4", b.lock.images[0].digest.tag_form() + ".sig"}));
}

// Harbor's artifact list of `repository` in project ai-saas, with accessories (as its UI shows it).
nlohmann::json harbor_artifacts(Target& target, std::string repository) {
  std::string encoded;
  for (char c : repository) encoded += c == '/' ? std::string("%252F") : std::string(1, c);
  registry::HttpClient http(plain_http());
  registry::HttpRequest req;
  req.url = "http://" + target.host() + "/api/v2.0/projects/ai-saas/repositories/" + encoded + "/artifacts?with_accessory=true";
  req.authorization = "Basic " + util::base64_encode(target.harbor().admin_user() + ":" + target.harbor().admin_password());
  registry::HttpResponse r = http.send(req);
  EXPECT_EQ(r.status, 200) << r.body;
  return nlohmann::json::parse(r.body, nullptr, false);
}

// Harbor 2.14 and older list a Sigstore bundle referrer as a plain accessory, and their cosign
// content trust blocks pulls of an image without a signature.cosign accessory (goharbor/harbor
// #22643). Every --signature-format writes the .sig form, so each image has one; the push says why
// the bundles look unsigned there.
TEST(Push, AHarborOlderThan215HasTheSigSignatureOfEveryImage) {
  testenv::BundleSpec spec;
  spec.images = {"redis"};
  auto b = factory().build(spec, scratch("harbor-214.tar.zst"));
  testenv::HarborLikeOptions v214;
  v214.version = "v2.14.1-3a72a95e";
  Target target(v214);
  RunResult r = target.push(b.path, {"--create-project"});
  nlohmann::json j = pushed(r);
  EXPECT_NE(r.err.find("note: Harbor v2.14.1-3a72a95e is older than 2.15"), std::string::npos) << said(r);
  EXPECT_NE(r.err.find("every --signature-format pushes"), std::string::npos) << said(r);
  EXPECT_EQ(j["signaturesVerified"].get<int>(), 2);
  bundle::Root root = root_of(b.path);
  const std::map<std::string, oci::Digest> bundles = {{"library/redis", root.images.at(0).referrer},
                                                      {"charts/sealift-test-app", root.chart.referrer}};
  for (const auto& [repository, bundle_digest] : bundles) {
    nlohmann::json list = harbor_artifacts(target, repository);
    ASSERT_EQ(list.size(), 1u) << list.dump();
    std::map<std::string, std::string> type_of;
    for (const auto& a : list[0]["accessories"]) type_of[a["digest"].get<std::string>()] = a["type"].get<std::string>();
    EXPECT_EQ(std::count_if(type_of.begin(), type_of.end(), [](const auto& t) { return t.second == "signature.cosign"; }), 1)
        << repository << ": the .sig; " << list.dump();
    EXPECT_EQ(type_of[bundle_digest.str()], "subject.accessory") << repository << ": the vendor's Sigstore bundle; " << list.dump();
  }
  // Legacy pushes no bundle, so there is nothing to say.
  RunResult legacy = target.push(b.path, {"--signature-format", "legacy"});
  EXPECT_EQ(legacy.exit_code, 0) << said(legacy);
  EXPECT_EQ(legacy.err.find("older than 2.15"), std::string::npos) << said(legacy);
}

// The customer's security team signs `image` in the target with cosign v2 itself (the .sig form),
// with the key beside `customer` (a public key from factory().other_key).
RunResult countersign(Target& target, const std::string& image, const fs::path& customer) {
  return testenv::run({testenv::peer("cosign"), "sign", "--key", (customer.parent_path() / "cosign.key").string(),
                       "--tlog-upload=false", "-y", "--allow-http-registry", image},
                      {{"COSIGN_PASSWORD", factory().key_password()}, {"DOCKER_CONFIG", target.env().at("DOCKER_CONFIG")}});
}

TEST(Push, SignaturesAlreadyInHarborAreKept) {
  testenv::BundleSpec spec;
  spec.images = {"redis"};
  auto first = factory().build(spec, scratch("first.tar.zst"));
  Target target;
  pushed(target.push(first.path, {"--create-project"}));
  std::string image = target.host() + "/ai-saas/library/redis@" + first.lock.images[0].digest.str();

  // The customer's security team countersigns in Harbor with cosign itself.
  fs::path customer = factory().other_key("customer");
  RunResult sign = countersign(target, image, customer);
  ASSERT_EQ(sign.exit_code, 0) << said(sign);

  // A new build of the same images carries new signatures: they join, nothing is lost.
  auto second = factory().build(spec, scratch("second.tar.zst"));
  ASSERT_EQ(second.lock.images[0].digest, first.lock.images[0].digest);
  nlohmann::json j = pushed(target.push(second.path));
  EXPECT_EQ(j["signaturesVerified"].get<int>(), 2);
  EXPECT_EQ(j["signaturesMerged"].get<int>(), 0) << "the vendor's signature was there already";
  // The customer's .sig signature is read by cosign in the .sig form: cosign v2 and v3 read only
  // the Sigstore bundles once an image has one (hence --signature-format legacy, below).
  EXPECT_EQ(target.cosign_verify(image, customer, "cosign3-legacy").exit_code, 0) << "the customer's signature was overwritten";
  EXPECT_NE(target.cosign_verify(image, customer).exit_code, 0) << "cosign v2 read the .sig form beside a bundle";
  for (const std::string cosign : {"cosign", "cosign3", "cosign3-legacy"})
    EXPECT_EQ(target.cosign_verify(image, factory().public_key(), cosign).exit_code, 0) << cosign;

  // The vendor rotates its key: the new signatures are added beside the old ones.
  fs::path rotated = factory().other_key("vendor-2026");
  spec.signing_key = rotated.parent_path() / "cosign.key";
  auto third = factory().build(spec, scratch("third.tar.zst"));
  nlohmann::json k = pushed(target.push(third.path, {}, rotated));
  EXPECT_EQ(k["signaturesMerged"].get<int>(), 2) << "image and chart";
  EXPECT_EQ(k["tagsWritten"].get<int>(), 0);
  for (const fs::path& key : {rotated, customer, factory().public_key()})
    EXPECT_EQ(target.cosign_verify(image, key, "cosign3-legacy").exit_code, 0) << key;
  // The rotated key's Sigstore bundle joins the old one as a second referrer.
  EXPECT_EQ(k["referrersPushed"].get<int>(), 2);
  for (const fs::path& key : {rotated, factory().public_key()}) {
    EXPECT_EQ(target.cosign_verify(image, key).exit_code, 0) << key;
    EXPECT_EQ(target.cosign_verify(image, key, "cosign3").exit_code, 0) << key;
  }
  std::string chart = target.host() + "/ai-saas/charts/sealift-test-app@" + root_of(third.path).chart.manifest.str();
  EXPECT_EQ(target.cosign_verify(chart, rotated).exit_code, 0);
  EXPECT_EQ(target.cosign_verify(chart, factory().public_key()).exit_code, 0);
}

// --signature-format legacy: a site whose own signatures are in the .sig form (cosign v2) keeps
// the vendor's in that form only, so cosign v2 still reads both; no referrer, no referrers tag.
TEST(Push, LegacySignatureFormatPushesNoReferrers) {
  testenv::BundleSpec spec;
  spec.images = {"redis"};
  auto b = factory().build(spec, scratch("legacy.tar.zst"));
  Target target;
  nlohmann::json j = pushed(target.push(b.path, {"--create-project", "--signature-format", "legacy"}));
  EXPECT_EQ(j["signaturesVerified"].get<int>(), 2);
  EXPECT_EQ(j["referrersPushed"].get<int>(), 0);
  EXPECT_EQ(j["referrersVerified"].get<int>(), 0);
  std::vector<std::string> tags = target.tags("ai-saas/library/redis");
  std::sort(tags.begin(), tags.end());
  EXPECT_EQ(tags, (std::vector<std::string>{"7.4", b.lock.images[0].digest.tag_form() + ".sig"}));
  std::string image = target.host() + "/ai-saas/library/redis@" + b.lock.images[0].digest.str();
  fs::path customer = factory().other_key("customer");
  RunResult sign = countersign(target, image, customer);
  ASSERT_EQ(sign.exit_code, 0) << said(sign);
  for (const fs::path& key : {customer, factory().public_key()})
    for (const std::string cosign : {"cosign", "cosign3"}) EXPECT_EQ(target.cosign_verify(image, key, cosign).exit_code, 0) << cosign;
  RunResult bad = target.push(b.path, {"--signature-format", "sigstore"});
  EXPECT_NE(bad.exit_code, 0) << said(bad);
  EXPECT_NE(bad.err.find("--signature-format"), std::string::npos) << said(bad);
}

}  // namespace
}  // namespace sealift::install::testing

namespace sealift::install::testing {
namespace {

// An image its publisher signed with cosign v3 (a Sigstore bundle referrer, upstream): with
// --upstream-key the build carries that signature, verify checks it with the publisher's key, the
// push puts it beside the vendor's, and cosign v3 verifies the image at the target with the
// publisher's key. A key that is not the publisher's stops the build and the verify.
TEST(Push, UpstreamSignaturesTravelToTheTarget) {
  testenv::BundleSpec spec;
  spec.images = {"busybox"};
  auto plain = factory().build(spec, scratch("upstream-plain.tar.zst"));
  const auto& image = plain.lock.images[0];
  const std::string upstream = factory().upstream().host() + "/" + image.source.repository + "@" + image.digest.str();
  const fs::path publisher = factory().other_key("publisher");
  testenv::TempDir home("sealift-publisher");
  RunResult sign = testenv::run({testenv::peer("cosign3"), "sign", "--key", (publisher.parent_path() / "cosign.key").string(),
                                 "--tlog-upload=false", "--use-signing-config=false", "-y", "--allow-http-registry", upstream},
                                {{"COSIGN_PASSWORD", factory().key_password()}, {"HOME", home.path().string()}});
  ASSERT_EQ(sign.exit_code, 0) << said(sign);

  spec.build_args = {"--upstream-key", publisher.string(), "--json"};
  auto b = factory().build(spec, scratch("upstream-signed.tar.zst"));
  bundle::Root root = root_of(b.path);
  ASSERT_EQ(root.images.at(0).upstream_signatures.size(), 1u);

  RunResult v = install({"verify", b.path.string(), "--key", factory().public_key().string(), "--upstream-key",
                         publisher.string(), "--json"});
  ASSERT_EQ(v.exit_code, 0) << said(v);
  EXPECT_EQ(nlohmann::json::parse(v.out)["upstreamSignaturesVerified"].get<int>(), 1);
  const fs::path stranger = factory().other_key("stranger");
  RunResult wrong = install({"verify", b.path.string(), "--key", factory().public_key().string(), "--upstream-key",
                             stranger.string()});
  EXPECT_NE(wrong.exit_code, 0) << said(wrong);
  EXPECT_NE(wrong.err.find(image.source.str() + ": none of its 1 upstream signature(s) verifies with the --upstream-key"),
            std::string::npos)
      << said(wrong);

  spec.build_args = {"--upstream-key", stranger.string()};
  EXPECT_THROW(factory().build(spec, scratch("upstream-stranger.tar.zst")), std::runtime_error);
  EXPECT_FALSE(fs::exists(scratch("upstream-stranger.tar.zst")));

  Target target;
  nlohmann::json j = pushed(target.push(b.path, {"--create-project"}));
  EXPECT_EQ(j["referrersPushed"].get<int>(), 3) << "the vendor's two and the publisher's one";
  const std::string pinned = target.host() + "/ai-saas/" + image.source.repository + "@" + image.digest.str();
  EXPECT_EQ(target.cosign_verify(pinned, publisher, "cosign3").exit_code, 0);
  EXPECT_EQ(target.cosign_verify(pinned, factory().public_key(), "cosign3").exit_code, 0);
  EXPECT_NE(target.cosign_verify(pinned, stranger, "cosign3").exit_code, 0);
  // A second push adds nothing: both referrers are listed once.
  nlohmann::json again = pushed(target.push(b.path));
  EXPECT_EQ(again["referrersPushed"].get<int>(), 0);
  EXPECT_EQ(again["referrersTagged"].get<int>(), 0);
  EXPECT_EQ(target.client().referrers("ai-saas/" + image.source.repository, image.digest)->manifests().size(), 2u);
}

}  // namespace
}  // namespace sealift::install::testing
