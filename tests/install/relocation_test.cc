// Where images land in Harbor and the values that point the chart there: pure functions, checked
// against the issue's examples and the collision rule.
#include "install/relocation.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "util/error.h"

namespace sealift::install {
namespace {

oci::Digest digest_of(const std::string& s) { return oci::Digest::of(s); }

struct Sample {
  bundle::Root root;
  lock::ImageLock lock;

  void add(const std::string& name, const std::string& source, std::vector<std::string> paths) {
    bundle::RootImage image;
    image.source = source;
    image.digest = digest_of(source);
    image.upstream_digest = image.digest;
    root.images.push_back(image);
    lock::LockedImage locked;
    locked.name = name;
    locked.source = ref::Reference::parse(source);
    locked.digest = image.digest;
    locked.values_paths = std::move(paths);
    lock.images.push_back(locked);
  }
};

Sample sample() {
  Sample s;
  s.add("postgres", "docker.io/library/postgres:16.4", {"postgresql.image", "backup.image"});
  s.add("backend", "ghcr.io/sealift/backend:1.0.0", {"backend.image"});
  s.add("api-gateway", "ghcr.io/sealift/api-gateway:1.0.0", {"pipeline.apiGateway.image"});
  s.root.chart.name = "ai-saas-dashboard";
  s.root.chart.version = "1.0.0+build.7";
  s.root.chart.reference = "charts/ai-saas-dashboard:1.0.0_build.7";
  s.root.chart.manifest = digest_of("chart");
  return s;
}

TEST(Relocation, DropsTheSourceHostByDefault) {
  Sample s = sample();
  Relocation r = relocate(s.root, s.lock, {"harbor.example.com", "ai-saas", false});
  ASSERT_EQ(r.images.size(), 3u);
  EXPECT_EQ(r.images[0].repository, "ai-saas/library/postgres");
  EXPECT_EQ(r.images[0].tag, "16.4");
  EXPECT_EQ(r.images[0].name, "postgres");
  EXPECT_EQ(r.images[0].pinned(r.registry),
            "harbor.example.com/ai-saas/library/postgres@" + digest_of("docker.io/library/postgres:16.4").str());
  EXPECT_EQ(r.images[1].repository, "ai-saas/sealift/backend");
  EXPECT_EQ(r.chart.repository, "ai-saas/charts/ai-saas-dashboard");
  EXPECT_EQ(r.chart.tag, "1.0.0_build.7");
  EXPECT_EQ(r.chart.digest, digest_of("chart"));
}

TEST(Relocation, KeepsTheSourceHostWhenAsked) {
  Sample s = sample();
  Relocation r = relocate(s.root, s.lock, {"harbor.example.com", "ai-saas", true});
  EXPECT_EQ(r.images[0].repository, "ai-saas/docker.io/library/postgres");
  EXPECT_EQ(r.images[1].repository, "ai-saas/ghcr.io/sealift/backend");
  EXPECT_EQ(r.chart.repository, "ai-saas/charts/ai-saas-dashboard");
}

TEST(Relocation, TwoSourcesOnOneTargetAreRefused) {
  Sample s = sample();
  s.add("redis-a", "docker.io/library/redis:7.4", {"a.image"});
  s.add("redis-b", "ghcr.io/library/redis:7.4", {"b.image"});
  try {
    relocate(s.root, s.lock, {"harbor.example.com", "ai-saas", false});
    FAIL() << "a collision went through";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Input);
    EXPECT_NE(std::string(e.what()).find("docker.io/library/redis and ghcr.io/library/redis"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("harbor.example.com/ai-saas/library/redis"), std::string::npos) << e.what();
    EXPECT_NE(e.hint().find("--keep-source-host"), std::string::npos);
  }
  // Keeping the hosts apart resolves it.
  Relocation r = relocate(s.root, s.lock, {"harbor.example.com", "ai-saas", true});
  EXPECT_EQ(r.images.size(), 5u);
}

TEST(Relocation, TwoTagsOfOneSourceShareARepository) {
  Sample s = sample();
  s.add("postgres-15", "docker.io/library/postgres:15", {"old.image"});
  Relocation r = relocate(s.root, s.lock, {"harbor.example.com", "ai-saas", false});
  EXPECT_EQ(r.images[3].repository, r.images[0].repository);
  EXPECT_EQ(r.images[3].tag, "15");
}

TEST(Relocation, AnImageCannotTakeTheChartsRepository) {
  Sample s = sample();
  s.add("impostor", "docker.io/charts/ai-saas-dashboard:1", {"x.image"});
  EXPECT_THROW(relocate(s.root, s.lock, {"harbor.example.com", "ai-saas", false}), Error);
}

TEST(Relocation, BadProjectsAndHostsWithPortsAreRefused) {
  Sample s = sample();
  for (const char* project : {"", "AI-SaaS", "a//b", "-x", "with space"}) {
    try {
      relocate(s.root, s.lock, {"harbor.example.com", project, false});
      ADD_FAILURE() << "project \"" << project << "\" accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Usage) << project;
    }
  }
  s.add("local", "127.0.0.1:5000/team/tool:1", {"tool.image"});
  EXPECT_NO_THROW(relocate(s.root, s.lock, {"harbor.example.com", "ai-saas", false}));
  try {
    relocate(s.root, s.lock, {"harbor.example.com", "ai-saas", true});
    FAIL() << "a port in a repository name went through";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ai-saas/127.0.0.1:5000/team/tool"), std::string::npos) << e.what();
  }
}

TEST(Relocation, ValuesPointEveryImageBlockAtHarborByDigest) {
  Sample s = sample();
  Relocation r = relocate(s.root, s.lock, {"harbor.example.com", "ai-saas", false});
  std::string yaml = r.values_yaml();
  EXPECT_EQ(yaml, r.values_yaml()) << "not deterministic";
  YAML::Node v = YAML::Load(yaml);
  for (const char* path : {"postgresql", "backup"}) {
    YAML::Node image = v[path]["image"];
    EXPECT_EQ(image["registry"].as<std::string>(), "harbor.example.com");
    EXPECT_EQ(image["repository"].as<std::string>(), "ai-saas/library/postgres");
    EXPECT_EQ(image["digest"].as<std::string>(), digest_of("docker.io/library/postgres:16.4").str());
  }
  EXPECT_EQ(v["backend"]["image"]["repository"].as<std::string>(), "ai-saas/sealift/backend");
  EXPECT_EQ(v["pipeline"]["apiGateway"]["image"]["repository"].as<std::string>(), "ai-saas/sealift/api-gateway");
  EXPECT_EQ(v["pipeline"]["apiGateway"]["image"]["digest"].as<std::string>(),
            digest_of("ghcr.io/sealift/api-gateway:1.0.0").str());
  EXPECT_EQ(v.size(), 4u);  // postgresql, backup, backend, pipeline
}

}  // namespace
}  // namespace sealift::install
