// The air-gap lint: images collected from every kind of workload, matched against the lock by
// source or by digest, and a render of a chart copy with an unlisted image caught (real helm).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "chart/images.h"
#include "chart/metadata.h"
#include "env/process.h"
#include "lint/airgap.h"
#include "oci/manifest.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift::lint {
namespace {

namespace fs = std::filesystem;

fs::path chart_dir() { return testenv::source_dir() / "chart"; }

// A lock of the repository's chart whose digests are stand-ins: sha256 of "<name>" for the index
// and of "<name>/<arch>" for the platforms. Matching by source does not look at digests.
lock::ImageLock chart_lock() {
  lock::ImageLock l;
  l.chart = {"ai-saas-dashboard", "1.0.0", oci::Digest::of("chart")};
  for (const auto& img : chart::declared_images(chart::Metadata::load(chart_dir()))) {
    lock::LockedImage li;
    li.name = img.name;
    li.component = img.component;
    li.source = img.image;
    li.digest = oci::Digest::of(img.name);
    li.media_type = std::string(oci::media::kOciIndex);
    li.platforms = {{"linux", "amd64", "", oci::Digest::of(img.name + "/amd64"), std::nullopt},
                    {"linux", "arm64", "", oci::Digest::of(img.name + "/arm64"), std::nullopt}};
    li.values_paths = img.values_paths;
    l.images.push_back(li);
  }
  l.sort();
  return l;
}

TEST(AirgapLint, CollectsImagesOfEveryWorkloadKind) {
  const std::string manifests = R"(---
# Source: demo/templates/pod.yaml
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: ns1}
spec:
  initContainers: [{name: init, image: "busybox:1.36"}]
  containers: [{name: main, image: "nginx:1.27"}]
  ephemeralContainers: [{name: debug, image: "alpine:3.20"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec: {template: {spec: {containers: [{name: c, image: "ghcr.io/a/d:1"}]}}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: s, namespace: ns2}
spec: {template: {spec: {containers: [{name: c, image: "ghcr.io/a/s:1"}]}}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds, namespace: ns2}
spec: {template: {spec: {containers: [{name: c, image: "ghcr.io/a/ds:1"}]}}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs, namespace: ns2}
spec: {template: {spec: {containers: [{name: c, image: "ghcr.io/a/rs:1"}]}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: j, namespace: ns2}
spec: {template: {spec: {containers: [{name: c, image: "ghcr.io/a/j:1"}]}}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cj, namespace: ns2}
spec: {jobTemplate: {spec: {template: {spec: {initContainers: [{name: i, image: "ghcr.io/a/cj-init:1"}], containers: [{name: c, image: "ghcr.io/a/cj:1"}]}}}}}
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ReplicationController
    metadata: {name: rc, namespace: ns3}
    spec: {template: {spec: {containers: [{name: c, image: "ghcr.io/a/rc:1"}]}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: not-a-workload}
data: {image: "evil:1"}
---
# Source: only a comment
)";
  auto uses = collect_images(manifests, "release-ns");
  std::vector<std::string> got;
  for (const auto& u : uses) got.push_back(u.where() + " = " + u.image);
  EXPECT_EQ(got, (std::vector<std::string>{
                     "Pod ns1/p, container init = busybox:1.36",
                     "Pod ns1/p, container main = nginx:1.27",
                     "Pod ns1/p, container debug = alpine:3.20",
                     "Deployment release-ns/d, container c = ghcr.io/a/d:1",
                     "StatefulSet ns2/s, container c = ghcr.io/a/s:1",
                     "DaemonSet ns2/ds, container c = ghcr.io/a/ds:1",
                     "ReplicaSet ns2/rs, container c = ghcr.io/a/rs:1",
                     "Job ns2/j, container c = ghcr.io/a/j:1",
                     "CronJob ns2/cj, container i = ghcr.io/a/cj-init:1",
                     "CronJob ns2/cj, container c = ghcr.io/a/cj:1",
                     "ReplicationController ns3/rc, container c = ghcr.io/a/rc:1",
                 }));
  EXPECT_EQ(uses[0].source, "demo/templates/pod.yaml");
}

TEST(AirgapLint, RefusesManifestsThatDoNotParse) {
  EXPECT_THROW(collect_images("---\nkind: Pod\nspec: [unclosed\n", "ns"), Error);
  EXPECT_THROW(collect_images("---\nkind: Deployment\nmetadata: {name: d}\nspec: {}\n", "ns"), Error);
}

TEST(AirgapLint, MatchesBySourceOrByLockedDigest) {
  const auto l = chart_lock();
  auto use = [](const std::string& image) { return ImageUse{image, "Deployment", "ns", "d", "c", ""}; };
  const std::string redis_amd64 = oci::Digest::of("redis/amd64").str();
  const std::vector<ImageUse> uses = {
      use("redis:7.4"),                                                        // source, docker's short form
      use("docker.io/library/redis:7.4"),                                      // source
      use("harbor.example.com/proj/library/redis@" + redis_amd64),             // relocated by digest
      use("harbor.example.com/proj/library/redis:7.4@" + oci::Digest::of("redis").str()),
      use("docker.io/library/redis:7.2"),                                      // another tag
      use("harbor.example.com/proj/redis@" + oci::Digest::of("nope").str()),   // unknown digest
      use("ghcr.io/evil/miner:1"),                                             // unknown image
      use("Not A Reference"),
      use(""),
  };
  auto findings = check(uses, l);
  std::vector<std::string> problems;
  for (const auto& f : findings) problems.push_back(f.problem);
  ASSERT_EQ(findings.size(), 5u);
  EXPECT_EQ(problems[0], "docker.io/library/redis:7.2 is not in images.lock");
  EXPECT_NE(problems[1].find("is not in images.lock"), std::string::npos);
  EXPECT_EQ(problems[2], "ghcr.io/evil/miner:1 is not in images.lock");
  EXPECT_NE(problems[3].find("is not a valid image reference"), std::string::npos);
  EXPECT_EQ(problems[4], "has no image");

  // On the customer side only HOST/...@digest of a locked image passes.
  auto strict = check(uses, l, "harbor.example.com");
  ASSERT_EQ(strict.size(), 7u);
  EXPECT_EQ(strict[0].problem, "redis:7.4 is not pulled from harbor.example.com by digest");
  EXPECT_EQ(strict[0].use.image, "redis:7.4");
  EXPECT_EQ(strict[2].use.image, "docker.io/library/redis:7.2");
  EXPECT_NE(strict[3].problem.find("is not in images.lock"), std::string::npos);
}

TEST(AirgapLint, CasesCoverEveryValuesFileWithOptionalComponentsOffAndOn) {
  auto c = cases(chart_dir(), {}, {"pipeline.enabled", "ingressController.enabled"});
  std::vector<std::string> labels;
  for (const auto& x : c) labels.push_back(x.label);
  ASSERT_EQ(c.size(), 10u);
  EXPECT_EQ(labels[0], "defaults, pipeline.enabled, ingressController.enabled off");
  EXPECT_EQ(labels[1], "defaults, pipeline.enabled, ingressController.enabled on");
  EXPECT_EQ(labels[2], "values-dev.yaml, pipeline.enabled, ingressController.enabled off");
  EXPECT_EQ(c[3].values.files, std::vector<fs::path>{chart_dir() / "values-dev.yaml"});
  EXPECT_EQ(c[3].values.set, (std::vector<std::string>{"pipeline.enabled=true", "ingressController.enabled=true"}));
  EXPECT_EQ(labels[9], "values-staging.yaml, pipeline.enabled, ingressController.enabled on");

  auto stacked = cases(chart_dir(), {{chart_dir() / "values-prod.yaml", chart_dir() / "values-managed.yaml"}}, {});
  ASSERT_EQ(stacked.size(), 1u);
  EXPECT_EQ(stacked[0].label, "values-prod.yaml + values-managed.yaml");
}

TEST(AirgapLint, TheChartPassesForEveryValuesFile) {
  helm::Helm helm(testenv::peer("helm"));
  RenderSettings settings;
  settings.kube_version = "1.36.0";
  const auto meta = chart::Metadata::load(chart_dir());
  auto results = run(helm, chart_dir(), chart_lock(), cases(chart_dir(), {}, chart::optional_components(meta)), settings);
  ASSERT_EQ(results.size(), 10u);
  for (const auto& r : results) {
    EXPECT_GT(r.images, 5u) << r.lint_case.label;
    for (const auto& f : r.findings) ADD_FAILURE() << r.lint_case.label << ": " << f.use.where() << ": " << f.problem;
  }
}

TEST(AirgapLint, CatchesAnImageTheLockDoesNotList) {
  testenv::TempDir tmp;
  const fs::path copy = tmp.path() / "chart";
  fs::copy(chart_dir(), copy, fs::copy_options::recursive);
  util::write_file_atomic(copy / "templates/backend/sidecar-job.yaml", R"(apiVersion: batch/v1
kind: Job
metadata:
  name: cache-warmer
  namespace: {{ .Values.namespaces.backend }}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: warm
          image: quay.io/someone/cache-warmer:0.3
)");
  helm::Helm helm(testenv::peer("helm"));
  RenderSettings settings;
  settings.kube_version = "1.36.0";
  auto results = run(helm, copy, chart_lock(), cases(copy, {{copy / "values-prod.yaml"}}, {}), settings);
  ASSERT_EQ(results.size(), 1u);
  ASSERT_EQ(results[0].findings.size(), 1u);
  const auto& f = results[0].findings[0];
  EXPECT_EQ(f.use.where(), "Job app-backend/cache-warmer, container warm");
  EXPECT_EQ(f.use.source, "ai-saas-dashboard/templates/backend/sidecar-job.yaml");
  EXPECT_EQ(f.problem, "quay.io/someone/cache-warmer:0.3 is not in images.lock");
}

// A copy of the chart in DIR with one extra Pod whose image images.lock does not list
// (docker.io/library/alpine:3.20, in templates/frontend/debug-pod.yaml).
fs::path chart_with_unlisted_image(const testenv::TempDir& dir) {
  const fs::path copy = dir.path() / "chart";
  fs::copy(chart_dir(), copy, fs::copy_options::recursive);
  util::write_file_atomic(copy / "templates/frontend/debug-pod.yaml", R"(apiVersion: v1
kind: Pod
metadata:
  name: debug
  namespace: {{ .Values.namespaces.frontend }}
spec:
  containers:
    - name: shell
      image: docker.io/library/alpine:3.20
)");
  return copy;
}

TEST(AirgapLint, CommandPassesOnTheChartAndFailsOnAnUnlistedImage) {
  const std::map<std::string, std::string> env = {{"SEALIFT_HELM", testenv::peer("helm")}};
  const std::string lock = (testenv::source_dir() / "images.lock").string();
  auto ok = testenv::run({testenv::bundle_program(), "lint", "--chart", chart_dir().string(), "--lock", lock}, env);
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("ok    values-prod.yaml, pipeline.enabled, ingressController.enabled on: "), std::string::npos) << ok.out;

  testenv::TempDir tmp;
  const fs::path copy = chart_with_unlisted_image(tmp);
  auto bad = testenv::run({testenv::bundle_program(), "lint", "--chart", copy.string(), "--lock", lock, "-f",
                           (copy / "values-dev.yaml").string(), "--as-given"},
                          env);
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_NE(bad.out.find("FAIL  values-dev.yaml: 1 of "), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("Pod app-frontend/debug, container shell: docker.io/library/alpine:3.20 is not in images.lock "
                         "(ai-saas-dashboard/templates/frontend/debug-pod.yaml)"),
            std::string::npos)
      << bad.out;
  EXPECT_NE(bad.err.find("air-gap lint failed in 1 of 1 renders"), std::string::npos) << bad.err;
}

TEST(AirgapLint, CommandJsonIsOneDocumentAndQuietPrintsOnlyFindings) {
  const std::map<std::string, std::string> env = {{"SEALIFT_HELM", testenv::peer("helm")}};
  const std::string lock = (testenv::source_dir() / "images.lock").string();
  auto lint_cmd = [&](const fs::path& chart, std::vector<std::string> args) {
    std::vector<std::string> argv = {testenv::bundle_program(), "lint", "--chart", chart.string(), "--lock", lock};
    argv.insert(argv.end(), args.begin(), args.end());
    return testenv::run(argv, env);
  };

  auto ok = lint_cmd(chart_dir(), {"--json"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  const auto j = nlohmann::json::parse(ok.out);
  EXPECT_EQ(j.at("failed"), 0);
  ASSERT_EQ(j.at("renders").size(), 10u);
  EXPECT_EQ(j.at("renders")[0].at("case"), "defaults, pipeline.enabled, ingressController.enabled off");
  for (const auto& r : j.at("renders")) {
    EXPECT_GT(r.at("images").get<int>(), 5) << r;
    EXPECT_EQ(r.at("findings"), nlohmann::json::array()) << r;
  }
  auto quiet = lint_cmd(chart_dir(), {"--quiet"});
  EXPECT_EQ(quiet.exit_code, 0) << quiet.out << quiet.err;
  EXPECT_EQ(quiet.out, "");
  EXPECT_EQ(quiet.err, "");

  testenv::TempDir tmp;
  const fs::path copy = chart_with_unlisted_image(tmp);
  const std::vector<std::string> dev = {"-f", (copy / "values-dev.yaml").string(), "--as-given"};
  std::vector<std::string> args = dev;
  args.push_back("--json");
  auto bad = lint_cmd(copy, args);
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_EQ(bad.err, "");
  const auto b = nlohmann::json::parse(bad.out);
  EXPECT_EQ(b.at("failed"), 1);
  ASSERT_EQ(b.at("renders").size(), 1u);
  EXPECT_EQ(b.at("renders")[0].at("case"), "values-dev.yaml");
  EXPECT_EQ(b.at("renders")[0].at("findings"),
            nlohmann::json::array({nlohmann::json{{"where", "Pod app-frontend/debug, container shell"},
                                                  {"image", "docker.io/library/alpine:3.20"},
                                                  {"problem", "docker.io/library/alpine:3.20 is not in images.lock"},
                                                  {"source", "ai-saas-dashboard/templates/frontend/debug-pod.yaml"}}}));

  args = dev;
  args.push_back("-q");
  auto bad_quiet = lint_cmd(copy, args);
  EXPECT_EQ(bad_quiet.exit_code, 1) << bad_quiet.out << bad_quiet.err;
  EXPECT_EQ(bad_quiet.out, "");
  EXPECT_NE(bad_quiet.err.find("FAIL  values-dev.yaml: 1 of "), std::string::npos) << bad_quiet.err;
  EXPECT_NE(bad_quiet.err.find("Pod app-frontend/debug, container shell: docker.io/library/alpine:3.20 is not in "
                               "images.lock (ai-saas-dashboard/templates/frontend/debug-pod.yaml)"),
            std::string::npos)
      << bad_quiet.err;
  EXPECT_NE(bad_quiet.err.find("air-gap lint failed in 1 of 1 renders"), std::string::npos) << bad_quiet.err;
}

TEST(AirgapLint, RenderFailuresNameTheCase) {
  helm::Helm helm(testenv::peer("helm"));
  RenderSettings settings;
  settings.kube_version = "1.36.0";
  LintCase broken{"broken case", {{}, {"redis.image.digest=sha256:12"}}};
  try {
    run(helm, chart_dir(), chart_lock(), {broken}, settings);
    FAIL() << "a failing render passed";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Tool);
    EXPECT_EQ(std::string(e.what()).rfind("broken case: helm template failed", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace sealift::lint
