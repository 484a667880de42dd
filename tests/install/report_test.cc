// The install report (issue 16): `install` and `upgrade --report` against the Harbor stand-in and
// the real cluster. The JSON's figures are compared with the stand-in's request log and with what
// the API server says the pods run; the HTML page is opened in headless Chromium (Debian's
// chromium): it renders with no console message (no script error, nothing blocked by its
// Content-Security-Policy), shows every image row, and a hostile name stays text.
#include <cstdlib>
#include <sstream>

#include "env/cluster.h"
#include "harness.h"
#include "install/report.h"
#include "sign/key.h"
#include "util/process.h"

namespace sealift::install::testing {
namespace {

fs::path scratch(const std::string& name) {
  static testenv::TempDir dir("sealift-report-test");
  return dir / name;
}

// What headless Chromium made of a page: the DOM after parsing and its console/log output.
struct Rendered {
  std::string dom;
  std::string log;
  uintmax_t screenshot_bytes = 0;
};

std::string chromium() {
  std::string path = util::find_in_path("chromium").string();
  if (path.empty() && std::getenv("CI")) ADD_FAILURE() << "chromium is missing (scripts/setup.sh installs it)";
  return path;
}

Rendered render(const fs::path& page) {
  const std::string browser = chromium();
  if (browser.empty()) return {};
  static int n = 0;
  fs::path profile = scratch("chromium-" + std::to_string(++n));
  fs::create_directories(profile);
  std::vector<std::string> common = {browser, "--headless=new", "--no-sandbox", "--disable-gpu",
                                     "--user-data-dir=" + profile.string(), "--enable-logging=stderr", "--v=0"};
  std::map<std::string, std::string> env = {{"HOME", profile.string()}};
  auto dump = common;
  dump.insert(dump.end(), {"--dump-dom", "file://" + fs::absolute(page).string()});
  RunResult d = testenv::run(dump, env, {}, 120);
  EXPECT_EQ(d.exit_code, 0) << said(d);
  auto shot = common;
  fs::path png = profile / "page.png";
  shot.insert(shot.end(), {"--screenshot=" + png.string(), "--window-size=1400,1000", "file://" + fs::absolute(page).string()});
  RunResult s = testenv::run(shot, env, {}, 120);
  EXPECT_EQ(s.exit_code, 0) << said(s);
  Rendered r{d.out, d.err + s.err, fs::exists(png) ? fs::file_size(png) : 0};
  return r;
}

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++n;
  return n;
}

// Console messages (script errors, CSP refusals) as Chromium logs them with --enable-logging.
void expect_quiet_console(const Rendered& r) {
  EXPECT_EQ(r.log.find(":CONSOLE"), std::string::npos) << r.log;
  EXPECT_EQ(r.log.find("Uncaught"), std::string::npos) << r.log;
}

// Blob uploads and mounts as the stand-in logged them ("METHOD PATH STATUS", no query): a PUT to
// .../blobs/uploads/... answered 201 finishes an upload; a POST there answered 201 (not 202,
// "upload started") is a mount the registry did.
struct LoggedBlobs {
  size_t uploaded = 0, mounted = 0;
};
LoggedBlobs logged_blobs(const std::string& log) {
  LoggedBlobs out;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream in(line);
    std::string method, path, status;
    in >> method >> path >> status;
    if (path.find("/blobs/uploads/") == std::string::npos || status != "201") continue;
    if (method == "PUT") ++out.uploaded;
    if (method == "POST") ++out.mounted;
  }
  return out;
}

TEST(Report, HostileNamesStayTextInThePage) {
  VerifiedBundle bundle;
  bundle.root.name = "evil</title><script>document.title='owned'</script>";
  bundle.root.version = "1.0.0\"><img src=x onerror=alert(1)>";
  bundle.root.chart.name = "chart<b>bold</b>";
  bundle.root.chart.version = "1.0.0";
  Relocation relocation;
  relocation.registry = "harbor.example.com";
  relocation.project = "p";
  for (int i = 0; i < 3; ++i) {
    RelocatedImage image;
    image.source = "docker.io/library/x" + std::to_string(i) + "<img src=x onerror=alert(" + std::to_string(i) + ")>";
    image.repository = "p/x" + std::to_string(i) + "'&\"";
    image.tag = "1";
    image.digest = oci::Digest::parse("sha256:" + std::string(64, 'a'));
    relocation.images.push_back(image);
  }
  relocation.chart.digest = oci::Digest::parse("sha256:" + std::string(64, 'b'));
  InstallReport report;
  report.command = "install";
  report.bundle = &bundle;
  report.relocation = &relocation;
  report.workloads.push_back({"ns", "Deployment/<i>x</i>", "pod", "c", "<script>alert(2)</script>", "", "<b>w</b>"});
  const std::string html = report_html(report);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_EQ(html_escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");

  fs::path page = scratch("hostile.html");
  util::write_file_atomic(page, html);
  Rendered r = render(page);
  if (r.dom.empty() && !std::getenv("CI")) GTEST_SKIP() << "no chromium: apt-get install chromium";
  expect_quiet_console(r);
  EXPECT_EQ(count(r.dom, "<tr class=\"image\">"), 3u) << r.dom;
  // The markup arrived as text: escaped again in the dumped DOM, and no element was made from it.
  EXPECT_NE(r.dom.find("x0&lt;img src=x onerror=alert(0)&gt;"), std::string::npos) << r.dom;
  EXPECT_EQ(r.dom.find("<img"), std::string::npos) << r.dom;
  EXPECT_EQ(r.dom.find("<script"), std::string::npos) << r.dom;
  EXPECT_EQ(r.dom.find("<b>"), std::string::npos) << r.dom;
  EXPECT_NE(r.dom.find("<title>sealift install report: evil&lt;/title&gt;&lt;script&gt;document.title='owned'"),
            std::string::npos)
      << "the title ended early: " << r.dom;
}

// What is inside each image, as evidence: the SBOM attestations and the publisher's attestations
// the bundle carried for it (by referrer digest), and how many verified.
TEST(Report, ListsEachImagesSbomsAndAttestations) {
  VerifiedBundle bundle;
  bundle.root.name = "app";
  bundle.sboms = 2;
  bundle.sboms_verified = 2;
  bundle.upstream_attestations = 1;
  bundle::RootImage with;
  with.source = "docker.io/library/postgres:16.4";
  with.sboms = {oci::Digest::of("sbom-amd64"), oci::Digest::of("sbom-arm64")};
  with.upstream_attestations = {oci::Digest::of("publisher")};
  bundle::RootImage without;
  without.source = "docker.io/library/redis:7.4";
  bundle.root.images = {with, without};
  Relocation relocation;
  relocation.registry = "harbor.example.com";
  for (const auto& ri : bundle.root.images) {
    RelocatedImage image;
    image.source = ri.source;
    image.repository = "p/x";
    image.tag = "1";
    image.digest = oci::Digest::of(ri.source);
    relocation.images.push_back(image);
  }
  InstallReport report;
  report.command = "install";
  report.bundle = &bundle;
  report.relocation = &relocation;
  auto j = report_json(report);
  EXPECT_EQ(j["images"][0]["sboms"], nlohmann::ordered_json::array({with.sboms[0].str(), with.sboms[1].str()}));
  EXPECT_EQ(j["images"][0]["upstreamAttestations"], nlohmann::ordered_json::array({with.upstream_attestations[0].str()}));
  EXPECT_TRUE(j["images"][1]["sboms"].empty());
  EXPECT_EQ(j["bundle"]["sbomsVerified"].get<int>(), 2);
  const std::string html = report_html(report);
  EXPECT_NE(html.find("2 (SPDX, one per platform image), 2 verified with the vendor&#39;s key"), std::string::npos) << html;
  EXPECT_NE(html.find("1 carried from the images&#39; publishers, 0 verified with --upstream-key"), std::string::npos) << html;
}

// Review 2026-12-07 L6: the report records what the chart's pull secret holds, as chosen on the
// command line (push credentials only with --pull-secret-from-push-credentials).
TEST(Report, SaysWhatThePullSecretHolds) {
  VerifiedBundle bundle;
  bundle.root.name = "app";
  Relocation relocation;
  relocation.registry = "registry.example.com";
  InstallReport report;
  report.command = "install";
  report.bundle = &bundle;
  report.relocation = &relocation;
  EXPECT_EQ(report_json(report)["pullSecret"], (nlohmann::ordered_json{{"source", "none"}, {"username", nullptr}}));
  report.pull_secret_source = "push-credentials";
  report.pull_secret_user = "deploy";
  auto j = report_json(report);
  EXPECT_EQ(j["pullSecret"], (nlohmann::ordered_json{{"source", "push-credentials"}, {"username", "deploy"}}));
  const std::string html = report_html(report);
  EXPECT_NE(html.find("the push credentials of deploy (--pull-secret-from-push-credentials)"), std::string::npos) << html;
}

// Issue 28: on a real node a container that cannot pull waits, and the report says why.
TEST(Report, SaysWhyAContainerWaits) {
  VerifiedBundle bundle;
  Relocation relocation;
  InstallReport report;
  report.bundle = &bundle;
  report.relocation = &relocation;
  report.workloads.push_back({"ns", "Deployment/web", "web-1", "web", "r.example/p/web@sha256:1", "", "ImagePullBackOff: Back-off pulling image"});
  report.workloads.push_back({"ns", "Deployment/web", "web-2", "web", "r.example/p/web@sha256:1", "r.example/p/web@sha256:1", ""});
  auto j = report_json(report);
  EXPECT_EQ(j["workloads"][0]["waiting"], "ImagePullBackOff: Back-off pulling image");
  EXPECT_EQ(j["workloads"][1]["waiting"], nullptr);
  EXPECT_EQ(j["workloads"][1]["imageID"], "r.example/p/web@sha256:1");
  EXPECT_NE(report_html(report).find("<td>ImagePullBackOff: Back-off pulling image</td>"), std::string::npos);
}

TEST(Report, BadReportPathsAreRefusedBeforeAnythingMoves) {
  testenv::BundleSpec spec;
  spec.images = {"redis"};
  auto b = factory().build(spec, scratch("bad-path.tar.zst"));
  Target target;
  target.harbor().create_project("ai-saas");
  auto& cluster = testenv::Cluster::shared();
  auto env = target.env();
  for (const auto& [k, v] : cluster.env()) env[k] = v;
  auto attempt = [&](const std::vector<std::string>& report) {
    std::vector<std::string> args = {"install", b.path.string(), "--key", factory().public_key().string(), "--registry",
                                     target.host(), "--project", "ai-saas", "--plain-http", "-n", "report-bad",
                                     "--helm", testenv::peer("helm"), "--kubeconfig", cluster.kubeconfig().string()};
    args.insert(args.end(), report.begin(), report.end());
    return install(args, env);
  };
  const fs::path missing = scratch("no-such-dir") / "report.json";
  RunResult r = attempt({"--report", missing.string()});
  EXPECT_EQ(r.exit_code, 2) << said(r);
  EXPECT_NE(r.err.find("the directory " + missing.parent_path().string() + " does not exist"), std::string::npos) << said(r);
  RunResult html = attempt({"--report", scratch("ok.json").string(), "--report-html", missing.string()});
  EXPECT_EQ(html.exit_code, 2) << said(html);
  RunResult dir = attempt({"--report", scratch("").string()});
  EXPECT_EQ(dir.exit_code, 2) << said(dir);
  RunResult lone = attempt({"--report-html", scratch("lone.html").string()});
  EXPECT_EQ(lone.exit_code, 2) << said(lone);
  // install's --resign-key with a wrong password (COSIGN_PASSWORD is unset in env: a file here).
  const fs::path wrong = scratch("wrong-password");
  util::write_file_atomic(wrong, "not-the-password", 0600);
  const fs::path site_key = factory().other_key("report-site").parent_path() / "cosign.key";
  RunResult bad_key = attempt({"--resign-key", site_key.string(), "--resign-password-file", wrong.string()});
  EXPECT_EQ(bad_key.exit_code, 3) << said(bad_key);
  EXPECT_NE(bad_key.err.find(site_key.string() + ": wrong password"), std::string::npos) << said(bad_key);
  // Nothing pushed, nothing installed, nothing written.
  EXPECT_EQ(target.harbor().count_requests("PUT", "/v2/"), 0u) << target.harbor().request_log();
  EXPECT_EQ(target.harbor().count_requests("POST", "/v2/"), 0u);
  EXPECT_NE(cluster.helm({"status", "sealift-test-app", "-n", "report-bad"}).exit_code, 0);
  EXPECT_FALSE(fs::exists(missing.parent_path()));
  EXPECT_FALSE(fs::exists(scratch("ok.json")));
  EXPECT_FALSE(fs::exists(scratch("lone.html")));
}

// GetParam(): the helm peer; the workloads come from `helm get manifest`, which both have (helm 4
// dropped `status --show-resources`).
class ReportWith : public ::testing::TestWithParam<std::string> {};

TEST_P(ReportWith, InstallAndUpgradeReportWhatTheRegistryAndTheClusterSaw) {
  testenv::BundleSpec spec;
  spec.images = {"redis", "backend", "postgres"};
  const std::string helm = GetParam(), name = testenv::helm_case_name(GetParam());
  auto b = factory().build(spec, scratch("report-" + name + ".tar.zst"));
  Target target;
  target.harbor().create_project("ai-saas");
  auto& cluster = testenv::Cluster::shared();
  const std::string ns = "report-" + name;
  const fs::path site = factory().other_key("report-site");
  auto env = target.env();
  for (const auto& [k, v] : cluster.env()) env[k] = v;
  env["COSIGN_PASSWORD"] = factory().key_password();
  // kubectl from the peers, as a site has its own.
  env["PATH"] = fs::path(testenv::peer("kubectl")).parent_path().string() + ":" + std::getenv("PATH");
  auto release = [&](const std::string& verb, const fs::path& report) {
    std::vector<std::string> args = {verb, b.path.string(), "--key", factory().public_key().string(), "--registry",
                                     target.host(), "--project", "ai-saas", "--plain-http", "-n", ns, "--helm",
                                     testenv::peer(helm), "--kubeconfig", cluster.kubeconfig().string(), "--quiet",
                                     "--resign-key", (site.parent_path() / "cosign.key").string(), "--report",
                                     report.string(), "--timeout", "3m"};
    RunResult r = install(args, env);
    EXPECT_EQ(r.exit_code, 0) << said(r);
    return r.exit_code == 0 ? nlohmann::json::parse(util::read_file(report)) : nlohmann::json::object();
  };

  const fs::path first_path = scratch("install-" + name + ".json");
  nlohmann::json j = release("install", first_path);
  ASSERT_FALSE(j.empty());
  bundle::Root root = root_of(b.path);
  EXPECT_EQ(j["command"], "install");
  EXPECT_EQ(j["bundle"]["name"], root.name);
  EXPECT_EQ(j["bundle"]["version"], root.version);
  const std::string vendor = sign::PublicKey::from_file(factory().public_key()).fingerprint();
  const std::string site_fp = sign::PublicKey::from_file(site).fingerprint();
  EXPECT_EQ(j["bundle"]["signer"], vendor);
  EXPECT_EQ(j["keys"]["site"], site_fp);
  EXPECT_EQ(j["chart"]["name"], root.chart.name);
  EXPECT_EQ(j["chart"]["version"], root.chart.version);
  EXPECT_EQ(j["chart"]["digest"], root.chart.manifest.str());
  EXPECT_EQ(j["release"]["revision"], 1);
  EXPECT_EQ(j["release"]["name"], "sealift-test-app");

  // Every image: source, digest, target by digest, and the four signature checks read back.
  ASSERT_EQ(j["images"].size(), root.images.size());
  std::set<std::string> targets;
  uint64_t uploaded = 0, mounted = 0;
  for (size_t i = 0; i < root.images.size(); ++i) {
    const auto& image = root.images[i];
    const auto& row = j["images"][i];
    ref::Reference source = ref::Reference::parse(image.source);
    EXPECT_EQ(row["source"], image.source);
    EXPECT_EQ(row["digest"], image.digest.str());
    EXPECT_EQ(row["target"], target.host() + "/ai-saas/" + source.repository + "@" + image.digest.str());
    targets.insert(row["target"].get<std::string>());
    EXPECT_TRUE(row["pushed"]["tagWritten"].get<bool>());
    EXPECT_EQ(row["pushed"]["siteSignaturesAdded"], 2);
    std::set<std::string> checks;
    for (const auto& s : row["signatures"]) checks.insert(s["form"].get<std::string>() + "/" + s["signer"].get<std::string>() + "/" + s["keyFingerprint"].get<std::string>());
    EXPECT_EQ(checks, (std::set<std::string>{"cosign .sig/vendor/" + vendor, "Sigstore bundle referrer/vendor/" + vendor,
                                             "cosign .sig/site/" + site_fp, "Sigstore bundle referrer/site/" + site_fp}))
        << row.dump();
    uploaded += row["pushed"]["blobsUploaded"].get<uint64_t>();
    mounted += row["pushed"]["blobsMounted"].get<uint64_t>();
  }
  uploaded += j["chart"]["pushed"]["blobsUploaded"].get<uint64_t>();
  mounted += j["chart"]["pushed"]["blobsMounted"].get<uint64_t>();

  // The figures are the registry's: uploads and mounts as its log has them.
  LoggedBlobs logged = logged_blobs(target.harbor().request_log());
  EXPECT_GT(logged.uploaded, 0u);
  EXPECT_EQ(j["push"]["blobsUploaded"].get<size_t>(), logged.uploaded);
  EXPECT_EQ(j["push"]["blobsMounted"].get<size_t>(), logged.mounted);
  EXPECT_EQ(uploaded, logged.uploaded);
  EXPECT_EQ(mounted, logged.mounted);

  // Phases in order, each timed.
  std::vector<std::string> phases;
  for (const auto& p : j["phases"]) {
    phases.push_back(p["phase"]);
    EXPECT_GE(p["seconds"].get<double>(), 0.0);
  }
  EXPECT_EQ(phases, (std::vector<std::string>{"verify", "push", "helm", "cluster"}));

  // The workloads' images are what the API server says the pods run: pinned targets of the push.
  RunResult pods = cluster.kubectl({"get", "pods", "-n", ns, "-o", "json"});
  ASSERT_EQ(pods.exit_code, 0) << said(pods);
  std::multiset<std::string> running, reported;
  const nlohmann::json pod_list = nlohmann::json::parse(pods.out);
  for (const auto& pod : pod_list["items"])
    for (const auto& c : pod["spec"]["containers"]) running.insert(pod["metadata"]["name"].get<std::string>() + " " + c["image"].get<std::string>());
  for (const auto& w : j["workloads"]) {
    reported.insert(w["pod"].get<std::string>() + " " + w["image"].get<std::string>());
    EXPECT_EQ(targets.count(w["image"].get<std::string>()), 1u) << w.dump();
    EXPECT_EQ(w["workload"].get<std::string>().rfind("Deployment/", 0), 0u) << w.dump();
  }
  EXPECT_FALSE(reported.empty());
  EXPECT_EQ(reported, running);

  // The page: renders, no console message, every image row, the figures.
  const fs::path page = scratch("install-" + name + ".html");
  ASSERT_TRUE(fs::exists(page));
  const std::string html = util::read_file(page);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos) << "an external asset";
  EXPECT_EQ(html.find("https://"), std::string::npos) << "an external asset";
  Rendered r = render(page);
  if (!r.dom.empty()) {
    expect_quiet_console(r);
    EXPECT_EQ(count(r.dom, "<tr class=\"image\">"), root.images.size());
    for (const auto& image : root.images) {
      EXPECT_NE(r.dom.find(image.source), std::string::npos) << image.source;
      EXPECT_NE(r.dom.find(image.digest.str()), std::string::npos);
    }
    EXPECT_NE(r.dom.find(site_fp), std::string::npos);
    EXPECT_EQ(count(r.dom, "<tr class=\"workload\">"), reported.size());
    EXPECT_GT(r.screenshot_bytes, 10000u) << "an empty screenshot";
  }

  // An upgrade with the same bundle: everything was there; the log shows no new upload.
  nlohmann::json u = release("upgrade", scratch("upgrade-" + name + ".json"));
  ASSERT_FALSE(u.empty());
  EXPECT_EQ(u["command"], "upgrade");
  EXPECT_EQ(u["release"]["revision"], 2);
  EXPECT_EQ(u["push"]["blobsUploaded"], 0);
  EXPECT_EQ(u["push"]["siteSignaturesAdded"], 0);
  for (const auto& row : u["images"]) {
    EXPECT_FALSE(row["pushed"]["tagWritten"].get<bool>()) << row.dump();
    EXPECT_EQ(row["pushed"]["blobsUploaded"], 0);
    EXPECT_GT(row["pushed"]["blobsAlreadyThere"].get<int>(), 0);
    EXPECT_EQ(row["signatures"].size(), 4u);
  }
  EXPECT_EQ(logged_blobs(target.harbor().request_log()).uploaded, logged.uploaded);
  EXPECT_TRUE(fs::exists(scratch("upgrade-" + name + ".html")));
}

INSTANTIATE_TEST_SUITE_P(HelmVersions, ReportWith, ::testing::ValuesIn(testenv::helm_peers()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return testenv::helm_case_name(i.param); });

}  // namespace
}  // namespace sealift::install::testing
