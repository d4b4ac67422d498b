#include "server/graph/schema.h"

#include "absl/strings/str_cat.h"

namespace kg {
namespace {

constexpr EdgeSchema kSchema[kEdgeTypeCount] = {
    {EntityType::kUnspecified, EntityType::kUnspecified},  // unspecified
    {EntityType::kProduct, EntityType::kCategory},         // IN_CATEGORY
    {EntityType::kCategory, EntityType::kCategory},        // SUBCATEGORY_OF
    {EntityType::kProduct, EntityType::kBrand},            // HAS_BRAND
    {EntityType::kProduct, EntityType::kSpu},              // INSTANCE_OF
    {EntityType::kProduct, EntityType::kMerchant},         // SOLD_BY
    {EntityType::kInfluencer, EntityType::kProduct},       // PROMOTES
    {EntityType::kContent, EntityType::kProduct},          // FEATURES
    {EntityType::kInfluencer, EntityType::kContent},       // POSTED
    {EntityType::kBuyer, EntityType::kProduct},            // VIEWED
    {EntityType::kBuyer, EntityType::kProduct},            // CLICKED
    {EntityType::kBuyer, EntityType::kProduct},            // ADDED_TO_CART
    {EntityType::kBuyer, EntityType::kProduct},            // PURCHASED
    {EntityType::kBuyer, EntityType::kInfluencer},         // FOLLOWS
};

constexpr absl::string_view kEntityTypeNames[kEntityTypeCount] = {"ENTITY_TYPE_UNSPECIFIED",
                                                                  "PRODUCT",
                                                                  "SPU",
                                                                  "BRAND",
                                                                  "CATEGORY",
                                                                  "MERCHANT",
                                                                  "INFLUENCER",
                                                                  "BUYER",
                                                                  "CONTENT"};

constexpr absl::string_view kEdgeTypeNames[kEdgeTypeCount] = {"EDGE_TYPE_UNSPECIFIED",
                                                              "IN_CATEGORY",
                                                              "SUBCATEGORY_OF",
                                                              "HAS_BRAND",
                                                              "INSTANCE_OF",
                                                              "SOLD_BY",
                                                              "PROMOTES",
                                                              "FEATURES",
                                                              "POSTED",
                                                              "VIEWED",
                                                              "CLICKED",
                                                              "ADDED_TO_CART",
                                                              "PURCHASED",
                                                              "FOLLOWS"};

}  // namespace

bool IsValidEntityType(int value) { return value > 0 && value < kEntityTypeCount; }
bool IsValidEdgeType(int value) { return value > 0 && value < kEdgeTypeCount; }

EdgeSchema SchemaOf(EdgeType type) { return kSchema[static_cast<int>(type)]; }

EntityType OwnerType(EdgeType type, Direction dir) {
  return dir == Direction::kOut ? SchemaOf(type).src : SchemaOf(type).dst;
}

EntityType NeighborType(EdgeType type, Direction dir) {
  return dir == Direction::kOut ? SchemaOf(type).dst : SchemaOf(type).src;
}

absl::string_view EntityTypeName(EntityType type) {
  int v = static_cast<int>(type);
  return v < kEntityTypeCount ? kEntityTypeNames[v] : "UNKNOWN";
}

absl::string_view EdgeTypeName(EdgeType type) {
  int v = static_cast<int>(type);
  return v < kEdgeTypeCount ? kEdgeTypeNames[v] : "UNKNOWN";
}

absl::string_view DirectionName(Direction dir) { return dir == Direction::kOut ? "OUT" : "IN"; }

absl::Status ValidateKey(const EntityKey& key, absl::string_view field) {
  if (!IsValidEntityType(static_cast<int>(key.type))) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".type: must be a known entity type, got ", static_cast<int>(key.type)));
  }
  if (key.id == 0) return absl::InvalidArgumentError(absl::StrCat(field, ".id: must not be 0"));
  return absl::OkStatus();
}

absl::Status ValidateOwner(const EntityKey& owner, EdgeType type, Direction dir,
                           absl::string_view field) {
  EntityType want = OwnerType(type, dir);
  if (owner.type != want) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".type: ", EdgeTypeName(type), " edges in direction ", DirectionName(dir),
        " belong to ", EntityTypeName(want), " keys, got ", EntityTypeName(owner.type)));
  }
  return absl::OkStatus();
}

std::string ItemField::Name() const { return absl::StrCat(list, "[", index, "]", suffix); }

absl::Status ValidateKey(const EntityKey& key, const ItemField& field) {
  absl::Status s = ValidateKey(key, absl::string_view());
  return s.ok() ? s : ValidateKey(key, field.Name());
}

absl::Status ValidateOwner(const EntityKey& owner, EdgeType type, Direction dir,
                           const ItemField& field) {
  absl::Status s = ValidateOwner(owner, type, dir, absl::string_view());
  return s.ok() ? s : ValidateOwner(owner, type, dir, field.Name());
}

absl::Status ValidateEdge(const EntityKey& src, EdgeType type, const EntityKey& dst,
                          int64_t time_ms, absl::string_view field) {
  if (!IsValidEdgeType(static_cast<int>(type))) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".type: must be a known edge type, got ", static_cast<int>(type)));
  }
  absl::Status s = ValidateKey(src, absl::StrCat(field, ".src"));
  if (!s.ok()) return s;
  s = ValidateKey(dst, absl::StrCat(field, ".dst"));
  if (!s.ok()) return s;
  EdgeSchema schema = SchemaOf(type);
  if (src.type != schema.src) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".src.type: ", EdgeTypeName(type),
                                                   " edges start at ", EntityTypeName(schema.src),
                                                   ", got ", EntityTypeName(src.type)));
  }
  if (dst.type != schema.dst) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".dst.type: ", EdgeTypeName(type),
                                                   " edges end at ", EntityTypeName(schema.dst),
                                                   ", got ", EntityTypeName(dst.type)));
  }
  if (src == dst) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".dst: an edge cannot loop to its source"));
  }
  if (time_ms < 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".time_ms: must not be negative"));
  }
  return absl::OkStatus();
}

}  // namespace kg
