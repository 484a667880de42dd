// sealift.json's optional `tools` field: absent when there are none (so older bundles' bytes are
// unchanged), and parsed strictly when present, naming the field that is wrong.
#include "bundle/root.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "oci/manifest.h"
#include "util/error.h"

namespace sealift::bundle {
namespace {

Root minimal() {
  Root r;
  r.name = "app";
  r.version = "1.0.0";
  r.created = "2026-01-01T00:00:00Z";
  r.tool = "sealift 0.1.0";
  r.lock = "lock";
  r.index = oci::Digest::of("index");
  r.index_size = 5;
  r.chart = {"app", "1.0.0", "charts/app:1.0.0", oci::Digest::of("m"), 1, oci::Digest::of("p"), oci::Digest::of("s"),
             oci::Digest::of("r")};
  return r;
}

RootTool helm() {
  return {"helm", "v3.21.4", "linux/amd64", "sealift/tools/helm:v3.21.4", oci::Digest::of("manifest"), 8,
          oci::Digest::of("binary"), 6};
}

std::string refusal(const std::string& text) {
  try {
    Root::parse(text);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Input);
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << text;
  return {};
}

TEST(RootTools, AbsentWhenThereAreNone) {
  std::string text = minimal().serialize();
  EXPECT_EQ(text.find("tools"), std::string::npos) << text;
  EXPECT_TRUE(Root::parse(text).tools.empty());
}

TEST(RootTools, RoundTripAfterTheChart) {
  Root r = minimal();
  r.tools.push_back(helm());
  std::string text = r.serialize();
  EXPECT_LT(text.find("\"chart\""), text.find("\"tools\""));
  EXPECT_LT(text.find("\"tools\""), text.find("\"base\""));
  Root back = Root::parse(text);
  ASSERT_EQ(back.tools.size(), 1u);
  const RootTool& t = back.tools[0];
  EXPECT_EQ(t.name, "helm");
  EXPECT_EQ(t.version, "v3.21.4");
  EXPECT_EQ(t.platform, "linux/amd64");
  EXPECT_EQ(t.reference, "sealift/tools/helm:v3.21.4");
  EXPECT_EQ(t.manifest, oci::Digest::of("manifest"));
  EXPECT_EQ(t.manifest_size, 8);
  EXPECT_EQ(t.binary, oci::Digest::of("binary"));
  EXPECT_EQ(t.size, 6);
  EXPECT_EQ(back.serialize(), text);
}

TEST(RootTools, BadFieldsAreNamed) {
  Root r = minimal();
  r.tools.push_back(helm());
  auto j = nlohmann::ordered_json::parse(r.serialize());
  auto with = [&](auto change) {
    auto copy = j;
    change(copy);
    return copy.dump(2);
  };
  EXPECT_NE(refusal(with([](auto& c) { c["tools"] = "helm"; })).find("tools: must be an array"), std::string::npos);
  EXPECT_NE(refusal(with([](auto& c) { c["tools"][0].erase("binary"); })).find("tools[0].binary: missing"),
            std::string::npos);
  EXPECT_NE(refusal(with([](auto& c) { c["tools"][0]["binary"] = "sha256:nothex"; })).find("tools[0].binary"),
            std::string::npos);
  EXPECT_NE(refusal(with([](auto& c) { c["tools"][0]["size"] = -1; })).find("tools[0].size"), std::string::npos);
  EXPECT_NE(refusal(with([](auto& c) { c["tools"][0]["name"] = "../helm"; })).find("tools[0].name"), std::string::npos);
  EXPECT_NE(refusal(with([](auto& c) { c["tools"][0]["platform"] = ""; })).find("tools[0].platform"), std::string::npos);
  EXPECT_NE(refusal(with([](auto& c) { c["tools"][0]["version"] = 3; })).find("tools[0].version: must be a string"),
            std::string::npos);
}

// The chart's name and version become a file name (<name>-<version>.tgz in the installer's
// workspace) and a tag: both are checked as helm defines them before anything uses them.
TEST(RootChart, NameAndVersionThatAreNoChartNameOrSemVerAreRefused) {
  auto j = nlohmann::ordered_json::parse(minimal().serialize());
  auto with = [&](const char* field, const char* value) {
    auto copy = j;
    copy["chart"][field] = value;
    return copy.dump(2);
  };
  for (const char* name : {"../../x", "a/b", "..", "", "App", "-app", "app-", "app_1", "app.x", "a b"}) {
    std::string why = refusal(with("name", name));
    EXPECT_NE(why.find("chart.name"), std::string::npos) << name << ": " << why;
    if (*name) {
      EXPECT_NE(why.find(name), std::string::npos) << "the value is named: " << why;
    }
  }
  for (const char* version : {"1.0/../..", "../../1.0.0", "1.0", "v1.0.0", "1.0.0-", "1.0.0+", "01.0.0", "1.0.0-01",
                              "1.0.0-rc..1", "1.0.0 ", ""}) {
    std::string why = refusal(with("version", version));
    EXPECT_NE(why.find("chart.version"), std::string::npos) << version << ": " << why;
  }
}

TEST(RootChart, HelmChartNamesAndSemVerVersionsPass) {
  auto j = nlohmann::ordered_json::parse(minimal().serialize());
  for (const char* name : {"a", "ai-saas-dashboard", "0", "x1-2y"})
    for (const char* version : {"0.0.0", "1.0.0", "10.20.30", "1.0.0-rc.1", "1.0.0-0.3.7", "1.0.0-x-y.7z.92",
                                "1.0.0+build.7", "1.0.0-alpha+001", "1.0.0-beta.11+exp.sha.5114f85"}) {
      auto copy = j;
      copy["chart"]["name"] = name;
      copy["chart"]["version"] = version;
      try {
        Root r = Root::parse(copy.dump(2));
        EXPECT_EQ(r.chart.name, name);
        EXPECT_EQ(r.chart.version, version);
      } catch (const Error& e) {
        ADD_FAILURE() << name << " " << version << ": " << e.what();
      }
    }
}

}  // namespace
}  // namespace sealift::bundle

namespace sealift::bundle {
namespace {

// Format 2 names each signature's Sigstore bundle referrer; format 1 bundles (no referrers) stay
// readable; other versions are refused in words.
TEST(RootFormat, TwoCarriesReferrersAndOneStaysReadable) {
  Root r = minimal();
  r.images.push_back({"docker.io/library/redis:7.4", oci::Digest::of("i"), std::string(oci::media::kOciIndex),
                      oci::Digest::of("i"), oci::Digest::of("sig"), oci::Digest::of("ref"), {}, {}, {}});
  std::string text = r.serialize();
  Root back = Root::parse(text);
  EXPECT_EQ(back.format_version, 3);
  EXPECT_EQ(back.images.at(0).referrer, oci::Digest::of("ref"));
  EXPECT_EQ(back.chart.referrer, oci::Digest::of("r"));
  EXPECT_EQ(back.serialize(), text);

  auto j = nlohmann::ordered_json::parse(text);
  auto missing = j;
  missing["images"][0].erase("sigstoreBundle");
  EXPECT_NE(refusal(missing.dump(2)).find("images[0].sigstoreBundle: missing"), std::string::npos);

  Root old = minimal();
  old.format_version = 1;
  old.images = r.images;
  std::string v1 = old.serialize();
  EXPECT_EQ(v1.find("sigstoreBundle"), std::string::npos) << v1;
  Root read = Root::parse(v1);
  EXPECT_EQ(read.format_version, 1);
  EXPECT_TRUE(read.images.at(0).referrer.empty());
  EXPECT_EQ(read.serialize(), v1);

  auto future = j;
  future["formatVersion"] = 4;
  EXPECT_NE(refusal(future.dump(2)).find("format version 4 is not supported (this sealift reads 1 to 3)"), std::string::npos);
}

// Format 3 lists each image's SBOM attestations and upstream attestations, only when it has some;
// a format 2 reader's bundle (none) serializes as before, and a malformed list is refused.
TEST(RootFormat, ThreeListsSbomsAndUpstreamAttestations) {
  Root r = minimal();
  r.images.push_back({"docker.io/library/redis:7.4", oci::Digest::of("i"), std::string(oci::media::kOciIndex),
                      oci::Digest::of("i"), oci::Digest::of("sig"), oci::Digest::of("ref"), {},
                      {oci::Digest::of("sbom-amd64"), oci::Digest::of("sbom-arm64")}, {oci::Digest::of("upstream")}});
  r.images.push_back({"docker.io/library/postgres:16.4", oci::Digest::of("p"), std::string(oci::media::kOciIndex),
                      oci::Digest::of("p"), oci::Digest::of("psig"), oci::Digest::of("pref"), {}, {}, {}});
  std::string text = r.serialize();
  Root back = Root::parse(text);
  EXPECT_EQ(back.images.at(0).sboms, r.images.at(0).sboms);
  EXPECT_EQ(back.images.at(0).upstream_attestations, r.images.at(0).upstream_attestations);
  EXPECT_TRUE(back.images.at(1).sboms.empty());
  EXPECT_EQ(back.serialize(), text);
  auto j = nlohmann::ordered_json::parse(text);
  EXPECT_FALSE(j["images"][1].contains("sboms")) << "serialized only when there are some";

  auto empty = j;
  empty["images"][0]["sboms"] = nlohmann::ordered_json::array();
  EXPECT_NE(refusal(empty.dump(2)).find("images[0].sboms: must be a non-empty array"), std::string::npos);
  auto bad = j;
  bad["images"][0]["upstreamAttestations"][0] = "sha256:nothex";
  EXPECT_NE(refusal(bad.dump(2)).find("images[0].upstreamAttestations"), std::string::npos);
}

}  // namespace
}  // namespace sealift::bundle
