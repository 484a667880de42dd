// The chart's image blocks: the Chart.yaml annotation agrees with values.yaml, the image helper
// renders registry/repository@digest when a digest is set, and a relocation values file (what
// sealift-install writes) makes every rendered image HOST/PROJECT/...@sha256:... (real helm).
#include <gtest/gtest.h>

#include <set>

#include "chart/images.h"
#include "chart/render.h"
#include "lint/images.h"
#include "oci/digest.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift::charttest {
namespace {

namespace fs = std::filesystem;

std::vector<chart::ChartImage> chart_images() { return chart::declared_images(chart::Metadata::load(chart_dir())); }

// Every image of every render the chart has: each values file, pipeline and ingress controller
// off and on.
std::vector<lint::ImageUse> all_uses(const std::vector<std::string>& extra_files = {}, const std::vector<std::string>& set = {}) {
  std::vector<lint::ImageUse> out;
  for (const auto& file : values_files()) {
    for (bool on : {false, true}) {
      helm::Values v;
      if (!file.empty()) v.files.push_back(chart_dir() / file);
      for (const auto& f : extra_files) v.files.push_back(f);
      v.set = set;
      v.set.push_back(std::string("pipeline.enabled=") + (on ? "true" : "false"));
      v.set.push_back(std::string("ingressController.enabled=") + (on ? "true" : "false"));
      auto uses = lint::collect_images(render(v), "sealift-system");
      out.insert(out.end(), uses.begin(), uses.end());
    }
  }
  return out;
}

TEST(ChartImages, AnnotationListsEveryImageOnceWithItsValuesPaths) {
  auto images = chart_images();
  std::set<std::string> names;
  std::set<std::string> paths;
  for (const auto& img : images) {
    EXPECT_TRUE(names.insert(img.name).second) << img.name;
    for (const auto& p : img.values_paths) EXPECT_TRUE(paths.insert(p).second) << p;
  }
  EXPECT_EQ(names, (std::set<std::string>{"ai-service", "api-gateway", "backend", "busybox", "content-service", "fluent-bit",
                                          "frontend", "ingress-nginx-controller", "metadata-service", "postgres",
                                          "prometheus", "redis", "validation-service", "workflow-orchestrator"}));
  EXPECT_TRUE(paths.count("postgresql.image"));
  EXPECT_TRUE(paths.count("backup.image"));
  EXPECT_TRUE(paths.count("pipeline.aiService.image"));
}

TEST(ChartImages, ValuesSelectWhatTheAnnotationDeclares) {
  auto problems = chart::check_values(chart_dir(), chart_images());
  EXPECT_TRUE(problems.empty()) << problems.front();
}

TEST(ChartImages, ADriftingTagInValuesIsReported) {
  testenv::TempDir tmp;
  fs::copy(chart_dir(), tmp.path() / "chart", fs::copy_options::recursive);
  std::string values = util::read_file(tmp.path() / "chart/values.yaml");
  const std::string from = "repository: library/redis\n    tag: \"7.4\"";
  ASSERT_NE(values.find(from), std::string::npos);
  values.replace(values.find(from), from.size(), "repository: library/redis\n    tag: \"7.2\"");
  util::write_file_atomic(tmp.path() / "chart/values.yaml", values);
  auto problems = chart::check_values(tmp.path() / "chart", chart_images());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("redis.image"), std::string::npos) << problems[0];
  EXPECT_NE(problems[0].find("docker.io/library/redis:7.2"), std::string::npos) << problems[0];
  EXPECT_NE(problems[0].find("docker.io/library/redis:7.4"), std::string::npos) << problems[0];
}

TEST(ChartImages, EveryRenderedImageIsDeclared) {
  std::set<std::string> declared;
  for (const auto& img : chart_images()) declared.insert(img.image.str());
  std::set<std::string> rendered;
  for (const auto& use : all_uses()) {
    EXPECT_TRUE(declared.count(ref::Reference::parse(use.image).str())) << use.where() << ": " << use.image;
    rendered.insert(ref::Reference::parse(use.image).str());
  }
  // And every declared image is used by some render.
  EXPECT_EQ(rendered, declared);
}

TEST(ChartImages, RelocationValuesPinEveryImageToTheTargetRegistryByDigest) {
  // What sealift-install writes: for each values path of the lock, the target registry, the
  // project-prefixed repository and the digest.
  testenv::TempDir tmp;
  std::map<std::string, std::string> digest_of;  // upstream repository -> digest
  YAML::Node merged(YAML::NodeType::Map);
  for (const auto& img : chart_images()) {
    for (const auto& path : img.values_paths) {
      YAML::Node node = merged;
      std::string rest = path;
      while (true) {
        auto dot = rest.find('.');
        std::string key = rest.substr(0, dot);
        if (!node[key]) node[key] = YAML::Node(YAML::NodeType::Map);
        YAML::Node child = node[key];
        node.reset(child);
        if (dot == std::string::npos) break;
        rest = rest.substr(dot + 1);
      }
      node["registry"] = "harbor.example.com";
      node["repository"] = "sealift/" + img.image.repository;
      node["digest"] = oci::Digest::of(img.name).str();
      digest_of[img.image.repository] = oci::Digest::of(img.name).str();
    }
  }
  YAML::Emitter out;
  out << merged;
  util::write_file_atomic(tmp.path() / "relocation.yaml", out.c_str());

  const std::string prefix = "harbor.example.com/sealift/";
  const auto uses = all_uses({(tmp.path() / "relocation.yaml").string()});
  ASSERT_GT(uses.size(), 20u);
  for (const auto& use : uses) {
    // HOST/PROJECT/<upstream repository>@sha256:<64 hex>
    const auto at = use.image.find('@');
    ASSERT_EQ(use.image.rfind(prefix, 0), 0u) << use.where() << ": " << use.image;
    ASSERT_NE(at, std::string::npos) << use.where() << ": " << use.image;
    const std::string repository = use.image.substr(prefix.size(), at - prefix.size());
    const std::string digest = use.image.substr(at + 1);
    EXPECT_TRUE(oci::Digest::valid(digest)) << use.image;
    ASSERT_TRUE(digest_of.count(repository)) << use.image;
    EXPECT_EQ(digest_of[repository], digest) << use.where() << " pulls another image's digest";
  }
}

TEST(ChartImages, GlobalImageRegistryReplacesEveryRegistry) {
  for (const auto& use : all_uses({}, {"global.imageRegistry=mirror.internal:5000"})) {
    EXPECT_EQ(use.image.rfind("mirror.internal:5000/", 0), 0u) << use.where() << ": " << use.image;
    EXPECT_EQ(use.image.find('@'), std::string::npos) << use.image;
  }
}

TEST(ChartImages, DigestWinsOverTagAndEmptyRegistryIsOmitted) {
  const std::string digest = oci::Digest::of("redis").str();
  helm::Values v;
  v.set = {"redis.image.digest=" + digest, "redis.image.registry=", "tools.image.tag=1.37"};
  std::set<std::string> images;
  for (const auto& use : lint::collect_images(render(v), "sealift-system")) images.insert(use.image);
  EXPECT_TRUE(images.count("library/redis@" + digest));
  EXPECT_FALSE(images.count("docker.io/library/redis:7.4"));
  EXPECT_TRUE(images.count("docker.io/library/busybox:1.37"));
}

TEST(ChartImages, MalformedDigestOrMissingTagFailsTheRender) {
  helm::Values bad_digest;
  bad_digest.set = {"redis.image.digest=sha256:1234"};
  try {
    render(bad_digest);
    FAIL() << "a short digest rendered";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/redis/image/digest"), std::string::npos) << e.what();
  }
  helm::Values no_tag;
  no_tag.set = {"redis.image.tag="};
  try {
    render(no_tag);
    FAIL() << "an image without tag or digest rendered";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("docker.io/library/redis has neither a tag nor a digest"), std::string::npos) << e.what();
  }
}

chart::Metadata with_images(const std::string& annotation) {
  chart::Metadata m;
  m.api_version = "v2";
  m.name = "c";
  m.version = "1.0.0";
  m.annotations[chart::kImagesAnnotation] = annotation;
  return m;
}

TEST(ChartImages, MalformedAnnotationsAreRefusedWithTheReason) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not a non-empty list"},
      {"- name: a\n  image: x:1\n  component: c\n  valuesPaths: [a.image]\n  extra: 1\n", "unknown key \"extra\""},
      {"- name: a\n  image: x:1\n  component: c\n  valuesPaths: [a.image]\n- name: a\n  image: y:1\n  component: c\n  valuesPaths: [b.image]\n",
       "listed twice"},
      {"- name: a\n  image: x\n  component: c\n  valuesPaths: [a.image]\n", "with a tag"},
      {"- name: a\n  image: x:1\n  component: c\n  valuesPaths: []\n", "no valuesPaths"},
      {"- name: a\n  image: x:1\n  component: c\n  valuesPaths: [a..image]\n", "not a dotted key path"},
      {"- name: a\n  image: UPPER:1\n  component: c\n  valuesPaths: [a.image]\n", ""},
      {"- name: a\n  component: c\n  valuesPaths: [a.image]\n", "has no image"},
  };
  for (const auto& [text, reason] : cases) {
    try {
      chart::declared_images(with_images(text));
      ADD_FAILURE() << "accepted:\n" << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Input);
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
    }
  }
  chart::Metadata none = with_images("");
  none.annotations.clear();
  EXPECT_THROW(chart::declared_images(none), Error);
}

TEST(ChartImages, ValuesPathsAreDottedKeys) {
  for (const char* ok : {"a", "frontend.image", "pipeline.aiService.image", "_x.y-z.a1"}) EXPECT_TRUE(chart::valid_values_path(ok)) << ok;
  for (const char* bad : {"", ".", "a.", ".a", "a..b", "1a", "a.-b", "a b", "a/b", "a.b["})
    EXPECT_FALSE(chart::valid_values_path(bad)) << bad;
}

TEST(ChartImages, OptionalComponentsAnnotation) {
  auto m = chart::Metadata::load(chart_dir());
  EXPECT_EQ(chart::optional_components(m), (std::vector<std::string>{"pipeline.enabled", "ingressController.enabled"}));
  m.annotations[chart::kOptionalComponentsAnnotation] = "a.enabled, bad path";
  EXPECT_THROW(chart::optional_components(m), Error);
}

}  // namespace
}  // namespace sealift::charttest
