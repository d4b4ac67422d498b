#include "client/datagen/datagen.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "client/datagen/rng.h"
#include "client/datagen/taxonomy_data.h"

namespace kg {
namespace datagen {
namespace {

// Share of products generated without an IN_CATEGORY edge.
constexpr uint64_t kUncategorizedPercent = 8;

// Independent random streams: each object draws from StreamSeed(seed, stream, id), so the
// output of one object does not depend on how many draws another one made.
enum Stream : uint64_t {
  kLeafStream = 1,
  kBrandStream,
  kMerchantStream,
  kInfluencerStream,
  kContentCountStream,
  kContentStream,
  kSpuStream,
  kProductStream,
  kBuyerStream,
  kPermutationStream,
  kWithheldStream,
  // Added later: new streams go last so the ones above keep their values.
  kPromotedViewStream,   // per buyer: views of followed influencers' promoted products
  kFavouriteLeafStream,  // per buyer: favourite leaf categories
  kPairStream,           // per SPU: its planted pair's cause and promotions
};

// Catalogue size at scale 1.
constexpr double kSpusPerScale = 5700;  // ~3.5 products each: ~20k products
constexpr double kMerchantsPerScale = 1500;
constexpr double kInfluencersPerScale = 2000;
constexpr double kBuyersPerScale = 50000;
constexpr double kBrandsBase = 40;
constexpr double kBrandsPerSqrtScale = 1000;

// Popularity skews (Zipf exponents over ranks within a top-level category).
constexpr double kProductZipf = 0.95;
constexpr double kBrandZipf = 0.9;
constexpr double kMerchantZipf = 0.9;
constexpr double kInfluencerZipf = 1.05;

// Buyer behaviour.
constexpr double kMeanViews = 8.8;
constexpr double kMeanFollows = 2.3;
constexpr double kClickRate = 0.45;
constexpr double kCartRate = 0.60;
constexpr double kPurchaseRate = 0.33;
constexpr int kMaxViews = 400;
constexpr int kMaxFollows = 40;
// Draws of an ordinary view until one is accepted (rule 4; the last one always is).
constexpr int kViewAttempts = 8;

// Rule 1 (datagen.h): the chance that a buyer views a product promoted by an influencer
// they follow.
constexpr double kPromotedViewRate = 0.5;
// Rule 2: the purchase probability's factors (see PurchaseRate).
constexpr double kRatingSlope = 1.2;
constexpr double kMinRatingFactor = 0.2;
constexpr double kMaxRatingFactor = 1.85;
constexpr double kPriceExponent = 3.0;
constexpr double kMinPriceFactor = 0.3;
constexpr double kMaxPriceFactor = 3.0;
// Rule 3: favourite leaf categories per buyer (1..kMaxFavouriteLeaves) and the share of the
// ordinary views drawn from them.
constexpr int kMaxFavouriteLeaves = 3;
constexpr double kLeafViewShare = 0.4;
// Rule 4: an ordinary view's acceptance for a product of the other gender, and by the
// distance in age bands between the buyer and the product's peak (3 or more: the last).
constexpr double kOtherGenderAccept = 0.1;
constexpr double kAgeAccept[] = {1.0, 0.25, 0.08, 0.03};
// Rule 5: the planted pairs.
constexpr const char* kPairCauses[] = {"promotion", "price", "rating"};
enum PairCause : uint8_t { kPromotionCause, kPriceCause, kRatingCause };
constexpr double kPairRating = 4.0;
constexpr double kPairWinnerRating = 4.7;
constexpr double kPairLoserRating = 3.3;
constexpr double kPairWinnerPrice = 0.8;  // times the SPU's base price
constexpr double kPairLoserPrice = 1.15;
// A "promotion" pair's winner gains 6..8 promoters among its category's most followed
// influencers; none of the top 8 may promote its loser.
constexpr uint64_t kPairMinPromoters = 6;
constexpr uint64_t kPairMaxPromoters = 8;
// No influencer of a category's most followed 3 may promote either product of a "price" or
// "rating" pair (so that their views stay equal).
constexpr uint64_t kPairQuietInfluencers = 3;
// The base price of a planted SPU against its reference (rule 2), as log(base / reference):
// for "promotion" at or below it (views convert well), for the others near it (neither
// product's purchase rate reaches its bounds).
constexpr double kPairLogPriceRange[][2] = {{-0.3, 0.0}, {-0.25, 0.25}, {-0.25, 0.25}};
// "promotion" pairs are the candidates nearest this popularity (relative to the mean
// product's, so that the promoted views show); the others the most popular.
constexpr double kPromotionPairPopularity = 1.5;

constexpr int64_t kSecondMs = 1000;
constexpr int64_t kMinuteMs = 60 * kSecondMs;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;

// Vocabulary. Brand heads are all three letters so head + tail names are unique.
constexpr const char* kBrandHeads[] = {"Nim", "Aur", "Kes", "Vel", "Zan", "Lum", "Tor", "Bri",
                                       "Cal", "Dra", "Fen", "Gal", "Hal", "Ira", "Jun", "Kor",
                                       "Lor", "Mar", "Nor", "Oly", "Pax", "Qui", "Ros", "Sol",
                                       "Tal", "Ula", "Val", "Wyn", "Xen", "Yor", "Zel", "Ast",
                                       "Bel", "Cor", "Del", "Eri", "Fal", "Gor", "Hel", "Ivo"};
constexpr const char* kBrandTails[] = {"bus",  "elia", "trel", "ora", "ex",   "ion", "ix",  "ova",
                                       "ara",  "en",   "ium",  "oth", "alis", "ano", "eon", "ure",
                                       "ette", "ari",  "ona",  "ys",  "ade",  "ine", "ard", "ost",
                                       "ela",  "ino",  "ux",   "ero", "ami",  "ith"};
constexpr const char* kBrandSuffixes[] = {"",         " Labs",   " & Co",       " Studio",
                                          " Works",   " Goods",  " Collective", " Supply",
                                          " Atelier", " Design", " Originals",  " Gear"};
constexpr const char* kBrandTiers[] = {"budget", "mid", "premium"};
constexpr double kTierPrice[] = {0.6, 1.0, 1.9};
constexpr const char* kModelA[] = {
    "Trail", "Aero",  "Urban", "Classic", "Pro",   "Ultra", "Flex",   "Swift",  "Nova",   "Prime",
    "Core",  "Lite",  "Max",   "Edge",    "Pulse", "Zen",   "Terra",  "Luxe",   "Vista",  "Echo",
    "Apex",  "Solar", "Storm", "Breeze",  "Orbit", "Quest", "Fusion", "Vertex", "Summit", "Halo"};
constexpr const char* kModelB[] = {
    "Runner", "X",     "One",    "Air",    "Plus", "Go",    "Wave",   "Fit",   "Line",  "Form",
    "Glide",  "Shift", "Motion", "Series", "Flow", "Touch", "Studio", "Elite", "Sport", "Smart"};
constexpr const char* kModelN[] = {"", " 2", " 3", " 4", " 5", " S", " Mini", " Neo"};
constexpr const char* kColors[] = {"Black",  "White",  "Grey",   "Navy",  "Blue",  "Red",
                                   "Green",  "Beige",  "Pink",   "Brown", "Olive", "Burgundy",
                                   "Yellow", "Purple", "Silver", "Teal"};
constexpr const char* kGenderTargets[] = {"women", "men", "unisex"};
constexpr const char* kBuyerGenders[] = {"F", "M", "U"};
constexpr double kBuyerGenderWeights[] = {52, 44, 4};
constexpr const char* kAgeBands[] = {"18-24", "25-34", "35-44", "45-54", "55+"};
constexpr double kAgeBandWeights[] = {18, 30, 24, 16, 12};
constexpr const char* kCountries[] = {"US", "GB", "DE", "FR", "ES", "IT", "NL", "PL", "SE", "CA",
                                      "AU", "JP", "KR", "BR", "MX", "IN", "SG", "AE", "TR"};
constexpr double kCountryWeights[] = {22, 8, 8, 7, 5, 5, 3, 3, 2, 5, 4, 6, 4, 5, 3, 6, 1, 1, 2};
constexpr const char* kFemaleNames[] = {
    "Anna",  "Maria", "Sofia", "Emma",  "Olivia", "Mia",   "Chloe", "Lena", "Yuki",  "Priya",
    "Ines",  "Clara", "Nora",  "Hana",  "Julia",  "Laura", "Eva",   "Zoe",  "Aisha", "Camila",
    "Elena", "Grace", "Ivy",   "Lucia", "Maya",   "Nina",  "Rosa",  "Sara", "Tara",  "Vera"};
constexpr const char* kMaleNames[] = {
    "Liam",   "Noah",   "Lucas", "Mateo", "Ethan",   "Leo",   "Hugo",  "Jonas", "Kenji", "Arjun",
    "Omar",   "David",  "Felix", "Ivan",  "Marco",   "Pablo", "Tomas", "Yusuf", "Adam",  "Ben",
    "Carlos", "Daniel", "Erik",  "Finn",  "Gabriel", "Henry", "Jack",  "Luca",  "Max",   "Sam"};
constexpr const char* kNeutralNames[] = {"Alex",  "Jordan", "Taylor", "Robin", "Charlie",
                                         "Kai",   "River",  "Sky",    "Quinn", "Morgan",
                                         "Jamie", "Rowan",  "Sasha",  "Ari",   "Noor"};
constexpr char kInitials[] = "ABCDEFGHJKLMNOPRSTVWZ";
constexpr const char* kMerchantHeads[] = {
    "North", "Blue",   "Silver",  "Golden",    "Urban",   "Coastal", "Summit", "Maple",
    "Cedar", "Harbor", "Pioneer", "Evergreen", "Bright",  "Lucky",   "Royal",  "Oak",
    "Sunny", "Metro",  "Alpine",  "Prairie",   "Redwood", "Green",   "Star",   "River",
    "Crown", "Eagle",  "Fox",     "Lotus",     "Pearl",   "Swift",   "Willow", "Aspen"};
constexpr const char* kCities[] = {"Berlin", "Austin", "Lyon",  "Osaka", "Porto",  "Leeds",
                                   "Denver", "Milan",  "Seoul", "Perth", "Quebec", "Malmo"};
constexpr const char* kPlatforms[] = {"video", "social", "blog"};
constexpr double kPlatformWeights[] = {50, 35, 15};
constexpr const char* kContentFormats[] = {"video", "post", "live", "story"};

template <typename T, size_t N>
constexpr size_t Size(const T (&)[N]) {
  return N;
}

// Index drawn with probability proportional to weights[i].
template <size_t N>
size_t Weighted(Rng* rng, const double (&weights)[N]) {
  double total = 0;
  for (double w : weights) total += w;
  double x = rng->Double() * total;
  for (size_t i = 0; i < N; ++i) {
    if (x < weights[i]) return i;
    x -= weights[i];
  }
  return N - 1;
}

size_t Weighted(Rng* rng, const std::vector<double>& cumulative) {
  double x = rng->Double() * cumulative.back();
  size_t i = std::upper_bound(cumulative.begin(), cumulative.end(), x) - cumulative.begin();
  return std::min(i, cumulative.size() - 1);
}

std::vector<std::string> SplitBar(const char* text) {
  std::vector<std::string> parts;
  if (text == nullptr || *text == '\0') return parts;
  for (absl::string_view part : absl::StrSplit(text, '|')) parts.emplace_back(part);
  return parts;
}

// Splits `total` into parts proportional to `weights` (largest remainder), each part at
// least `min_each` when total allows it.
std::vector<uint64_t> Allocate(uint64_t total, const std::vector<double>& weights,
                               uint64_t min_each) {
  size_t n = weights.size();
  std::vector<uint64_t> parts(n, 0);
  if (total >= min_each * n) {
    for (auto& p : parts) p = min_each;
    total -= min_each * n;
  }
  double sum = 0;
  for (double w : weights) sum += w;
  std::vector<std::pair<double, size_t>> remainders;
  uint64_t given = 0;
  for (size_t i = 0; i < n; ++i) {
    double exact = sum > 0 ? total * weights[i] / sum : 0;
    uint64_t whole = static_cast<uint64_t>(exact);
    parts[i] += whole;
    given += whole;
    remainders.emplace_back(exact - whole, i);
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t k = 0; given < total && k < remainders.size(); ++k, ++given) {
    ++parts[remainders[k].second];
  }
  return parts;
}

// A bijection of [0, n): rank -> position, so popular ranks are scattered over ids.
struct Permutation {
  uint64_t n = 1;
  uint64_t multiplier = 1;
  uint64_t offset = 0;

  Permutation() = default;
  Permutation(uint64_t size, uint64_t seed) : n(std::max<uint64_t>(size, 1)) {
    multiplier = static_cast<uint64_t>(n * 0.6180339887) | 1;
    while (std::gcd(multiplier, n) != 1) ++multiplier;
    multiplier %= n;
    if (multiplier == 0) multiplier = 1;
    offset = seed % n;
  }
  uint64_t operator()(uint64_t rank) const {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(rank) * multiplier + offset) % n);
  }
};

// Rounds to `digits` decimals (as the nearest double, so it prints short).
double RoundTo(double value, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(value * scale) / scale;
}

// Shelf price: x.99 above 5, else to the cent.
double ShelfPrice(double price) {
  if (price < 5) return std::max(0.49, RoundTo(price, 2));
  return std::floor(price) + 0.99;
}

const std::vector<std::string>& SizeValues(char kind, int gender) {
  static const auto* values = new std::vector<std::vector<std::string>>([] {
    std::vector<std::vector<std::string>> v(128);
    v['L'] = {"XS", "S", "M", "L", "XL", "XXL"};
    v['K'] = {"Age 2-3", "Age 4-5", "Age 6-7", "Age 8-9", "Age 10-11", "Age 12-13"};
    v['V'] = {"30 ml", "50 ml", "100 ml", "200 ml", "250 ml", "500 ml", "1 L"};
    v['G'] = {"64GB", "128GB", "256GB", "512GB", "1TB"};
    v['C'] = {"16 cm", "20 cm", "24 cm", "28 cm", "32 cm"};
    v['D'] = {"60 x 90 cm", "80 x 150 cm", "120 x 170 cm", "160 x 230 cm", "200 x 290 cm"};
    v['P'] = {"1-Person", "2-Person", "3-Person", "4-Person", "6-Person"};
    v['W'] = {"100 g", "250 g", "500 g", "1 kg", "2 kg", "5 kg", "10 kg"};
    v['N'] = {"Pack of 2", "Pack of 3", "Pack of 4", "Pack of 6", "Pack of 12", "Pack of 24"};
    v['I'] = {"24 inch", "27 inch", "32 inch", "34 inch"};
    v['S'] = {"36", "37", "38", "39", "40", "41", "42", "43", "44", "45", "46"};  // unisex
    v['s'] = {"36", "37", "38", "39", "40", "41"};                                // women
    v['t'] = {"40", "41", "42", "43", "44", "45", "46"};                          // men
    return v;
  }());
  if (kind == 'S') {
    if (gender == 0) return (*values)['s'];
    if (gender == 1) return (*values)['t'];
  }
  return (*values)[static_cast<unsigned char>(kind) & 127];
}

struct Category {
  std::string name;
  std::string path;
  int level = 0;
  uint64_t parent = 0;  // 0 for a top-level category
};

struct Spu {
  uint32_t brand = 0;          // brand id
  uint32_t first_product = 0;  // product id of its first variant
  uint16_t leaf = 0;           // index into kLeaves
  uint8_t top = 0;
  uint8_t variants = 0;
  uint8_t model_a = 0, model_b = 0, model_n = 0;
  uint8_t term = 0;
  uint8_t material = 0;  // 0: none, else index + 1 into the top's materials
  uint8_t gender = 2;    // index into kGenderTargets
  uint8_t age_peak = 0;  // the age band it appeals to most
  bool material_in_title = false;
  float base_price = 0;
  float quality = 0;  // 0..1
};

// Rule 4 (datagen.h): the chance that a buyer of `gender` accepts a product for `target`
// (indexes into kBuyerGenders and kGenderTargets).
double GenderAccept(size_t gender, int target) {
  return gender != 2 && target != 2 && target != static_cast<int>(gender) ? kOtherGenderAccept
                                                                          : 1.0;
}

// Rule 4: the chance that a buyer of `gender` and age band `age` accepts an ordinary view of
// a product of SPU `s`.
double Appeal(size_t gender, size_t age, const Spu& s) {
  const int distance = std::abs(static_cast<int>(s.age_peak) - static_cast<int>(age));
  return GenderAccept(gender, s.gender) * kAgeAccept[std::min(distance, 3)];
}

struct Product {
  uint32_t spu = 0;
  uint32_t merchant = 0;
  double price = 0;
  float rating = 0;         // 1..5, one decimal
  float purchase_rate = 0;  // the chance that a cart becomes a purchase (rule 2)
  uint32_t pair = 0;        // 1 + index into World::pairs; 0: not in a planted pair
  uint8_t color = 0;        // 0: none, else index + 1 into kColors
  uint8_t size = 0;         // 0: none, else index + 1 into SizeValues
};

// A product an influencer promotes, and when.
struct Promotion {
  uint32_t product = 0;
  int64_t time_ms = 0;
};

// A planted pair (rule 5): `winner` outperforms `loser` because of `cause`.
struct PlantedPair {
  uint32_t winner = 0;  // product ids
  uint32_t loser = 0;
  uint8_t cause = kPromotionCause;
  uint8_t review_noise = 0;  // the review_count's noise, shared by both products
};

// Ids of one top-level category's entities of one type, [begin, end), with the popularity
// law over them.
struct Range {
  uint64_t begin = 0;
  uint64_t end = 0;
  ZipfSampler zipf;
  uint64_t size() const { return end - begin; }
};

// The catalogue: everything except the per-buyer events, built before emitting. Its size
// is proportional to the number of products, not edges.
struct World {
  Options options;
  int64_t start_ms = 0;  // exclusive start of the event window

  std::vector<Category> categories;  // id - 1
  uint64_t top_count = 0;
  uint64_t first_leaf = 0;
  std::vector<uint8_t> leaf_top;                        // per leaf
  std::vector<std::vector<std::string>> leaf_terms;     // per leaf
  std::vector<std::vector<std::string>> top_materials;  // per top
  std::vector<std::vector<std::string>> top_merchant_nouns;

  std::vector<std::string> brand_names;  // id - 1
  std::vector<uint8_t> brand_tier;       // id - 1
  std::vector<uint8_t> brand_country;    // id - 1
  std::vector<std::vector<uint32_t>> top_brands;
  std::vector<ZipfSampler> top_brand_zipf;

  std::vector<Range> merchants;         // per top
  std::vector<Range> influencers;       // per top
  std::vector<uint32_t> content_first;  // per influencer id (index id), plus one past the end
  std::vector<Spu> spus;                // id - 1
  std::vector<Product> products;        // id - 1
  std::vector<Range> top_products;      // per top
  std::vector<Permutation> top_product_perm;
  std::vector<uint32_t> top_first_leaf;      // per top, plus one past the end: leaf indexes
  std::vector<uint32_t> leaf_first_product;  // per leaf, plus one past the end: product ids
  // Per leaf, its products from the most popular (the top-level popularity order), at the
  // positions of the leaf's product ids (leaf_first_product[l] - 1 ...).
  std::vector<uint32_t> leaf_order;
  std::vector<ZipfSampler> leaf_zipf;  // per leaf
  // Per influencer id (index id): its promotions, the drawn ones then the planted ones.
  std::vector<std::vector<Promotion>> promotions;
  std::vector<PlantedPair> pairs;  // by winner id
  uint64_t buyers = 0;

  uint64_t merchant_count() const { return merchants.empty() ? 0 : merchants.back().end - 1; }
  uint64_t influencer_count() const { return influencers.empty() ? 0 : influencers.back().end - 1; }
  uint64_t content_count() const { return content_first.back() - 1; }

  int TopOfInfluencer(uint64_t id) const {
    for (size_t t = 0; t < influencers.size(); ++t) {
      if (id < influencers[t].end) return static_cast<int>(t);
    }
    return static_cast<int>(influencers.size()) - 1;
  }
  int TopOfMerchant(uint64_t id) const {
    for (size_t t = 0; t < merchants.size(); ++t) {
      if (id < merchants[t].end) return static_cast<int>(t);
    }
    return static_cast<int>(merchants.size()) - 1;
  }

  // A product of top-level category `top` by popularity; 0 if it has none.
  uint64_t SampleProduct(int top, Rng* rng) const {
    const Range& range = top_products[top];
    if (range.size() == 0) return 0;
    return range.begin + top_product_perm[top](range.zipf.Sample(rng));
  }

  // A product of leaf `leaf` by popularity; 0 if it has none.
  uint64_t SampleLeafProduct(size_t leaf, Rng* rng) const {
    const uint64_t first = leaf_first_product[leaf];
    if (leaf_first_product[leaf + 1] == first) return 0;
    return leaf_order[first - 1 + leaf_zipf[leaf].Sample(rng)];
  }
};

std::string BrandName(uint64_t index, uint64_t seed) {
  constexpr uint64_t kHeads = Size(kBrandHeads);
  constexpr uint64_t kTails = Size(kBrandTails);
  constexpr uint64_t kBase = kHeads * kTails;  // 1200 single-word names come first
  uint64_t base = (index % kBase * 1001 + seed % kBase) % kBase;  // 1001 is coprime to 1200
  uint64_t suffix = (index / kBase) % Size(kBrandSuffixes);
  uint64_t round = index / (kBase * Size(kBrandSuffixes));
  std::string name =
      absl::StrCat(kBrandHeads[base % kHeads], kBrandTails[base / kHeads], kBrandSuffixes[suffix]);
  if (round > 0) absl::StrAppend(&name, " ", round + 1);
  return name;
}

std::vector<Range> AllocateRanges(uint64_t total, const std::vector<double>& weights,
                                  double exponent) {
  std::vector<uint64_t> parts = Allocate(total, weights, 1);
  std::vector<Range> ranges(parts.size());
  uint64_t next = 1;
  for (size_t t = 0; t < parts.size(); ++t) {
    ranges[t].begin = next;
    next += parts[t];
    ranges[t].end = next;
    ranges[t].zipf = ZipfSampler(parts[t], exponent);
  }
  return ranges;
}

// An influencer's own random choices, in the order of its stream: the entity's (also used
// by EmitInfluencers) and the products it promotes.
struct InfluencerDraws {
  bool female = false;
  size_t platform = 0;
  double followers = 0;
  double engagement_rate = 0;
  std::vector<Promotion> promoted;  // distinct products of its top-level category
};

// Requires w's products (top_products, top_product_perm).
void DrawInfluencer(const World& w, uint64_t i, InfluencerDraws* d) {
  const int t = w.TopOfInfluencer(i);
  const uint64_t rank = i - w.influencers[t].begin;
  Rng rng(StreamSeed(w.options.seed, kInfluencerStream, i));
  d->female = rng.Bernoulli(0.6);
  d->platform = Weighted(&rng, kPlatformWeights);
  double followers =
      2.0e6 * std::pow(static_cast<double>(rank + 1), -0.9) * std::exp(0.4 * rng.Normal()) + 500 +
      rng.Uniform(2000);
  d->followers = followers;
  d->engagement_rate = RoundTo(0.01 + 0.07 * rng.Double(), 3);
  d->promoted.clear();
  if (w.top_products[t].size() == 0) return;
  const uint64_t wanted = 5 + rng.Uniform(16);
  for (uint64_t k = 0; k < wanted * 2 && d->promoted.size() < wanted; ++k) {
    const uint64_t p = w.SampleProduct(t, &rng);
    if (std::any_of(d->promoted.begin(), d->promoted.end(),
                    [p](const Promotion& q) { return q.product == p; })) {
      continue;
    }
    d->promoted.push_back({static_cast<uint32_t>(p),
                           w.start_ms + 1 + static_cast<int64_t>(rng.Uniform(kEventWindowMs))});
  }
}

// Rule 2 (datagen.h): the chance that a product in a cart is purchased.
double PurchaseRate(double rating, double price, double reference) {
  const double rating_factor =
      std::clamp(1.0 + kRatingSlope * (rating - 4.0), kMinRatingFactor, kMaxRatingFactor);
  const double price_factor =
      std::clamp(std::pow(price / reference, -kPriceExponent), kMinPriceFactor, kMaxPriceFactor);
  return std::min(1.0, kPurchaseRate * rating_factor * price_factor);
}

// The probability of rank `rank` under ZipfSampler(n, exponent).
double ZipfProbability(uint64_t rank, uint64_t n, double exponent) {
  const double span = std::pow(n + 1.0, 1.0 - exponent) - 1.0;
  return (std::pow(rank + 2.0, 1.0 - exponent) - std::pow(rank + 1.0, 1.0 - exponent)) / span;
}

// Rule 5: chooses the planted pairs, sets their products' prices, ratings and pair, and adds
// the planted promotions. Requires the products' ratings and the drawn promotions.
void PlantPairs(World* w) {
  const uint64_t seed = w->options.seed;
  // Each product's rank in its top-level category's popularity.
  std::vector<uint32_t> rank(w->products.size());
  for (size_t t = 0; t < w->top_count; ++t) {
    const Range& range = w->top_products[t];
    for (uint64_t r = 0; r < range.size(); ++r) {
      rank[range.begin + w->top_product_perm[t](r) - 1] = static_cast<uint32_t>(r);
    }
  }
  // The products that the 8 and the 3 most followed influencers (the lowest ids) promote.
  std::vector<uint8_t> promoted_by_top(w->products.size(), 0);  // 1: top 8, 2: top 3
  for (const Range& range : w->influencers) {
    for (uint64_t i = range.begin; i < range.end && i < range.begin + kPairMaxPromoters; ++i) {
      const uint8_t mark = i < range.begin + kPairQuietInfluencers ? 2 : 1;
      for (const Promotion& p : w->promotions[i]) {
        promoted_by_top[p.product - 1] = std::max(promoted_by_top[p.product - 1], mark);
      }
    }
  }
  // Each product's rank in its leaf's popularity.
  std::vector<uint32_t> leaf_rank(w->products.size());
  for (size_t l = 0; l < kLeafCount; ++l) {
    for (uint32_t id = w->leaf_first_product[l]; id < w->leaf_first_product[l + 1]; ++id) {
      leaf_rank[w->leaf_order[id - 1] - 1] = id - w->leaf_first_product[l];
    }
  }
  // The share of the views of buyers of each gender and age band that go to each top-level
  // category (by their interests, without the favourites), times their share of buyers.
  constexpr size_t kGenders = Size(kBuyerGenders), kAges = Size(kAgeBands);
  std::vector<std::array<double, kGenders * kAges>> top_share(w->top_count);
  for (size_t g = 0; g < kGenders; ++g) {
    for (size_t a = 0; a < kAges; ++a) {
      double sum = 0;
      for (size_t t = 0; t < w->top_count; ++t) {
        if (w->top_products[t].size() == 0) continue;
        sum += kTops[t].weight * kTops[t].gender[g] * kTops[t].age[a];
      }
      for (size_t t = 0; t < w->top_count; ++t) {
        top_share[t][g * kAges + a] = w->top_products[t].size() == 0 || sum <= 0
                                          ? 0.0
                                          : kBuyerGenderWeights[g] * kAgeBandWeights[a] *
                                                kTops[t].weight * kTops[t].gender[g] *
                                                kTops[t].age[a] / sum;
      }
    }
  }
  // A product's expected share of the ordinary views (as if it was in no pair): by its
  // category's audience, the audience's acceptance of it (rule 4) and its popularity in its
  // category and leaf (rule 3).
  auto view_share = [&](uint32_t id) {
    const Spu& s = w->spus[w->products[id - 1].spu - 1];
    const uint64_t n_top = w->top_products[s.top].size();
    const uint64_t n_leaf = w->leaf_first_product[s.leaf + 1] - w->leaf_first_product[s.leaf];
    double audience = 0;
    for (size_t g = 0; g < kGenders; ++g) {
      for (size_t a = 0; a < kAges; ++a) {
        audience += top_share[s.top][g * kAges + a] * Appeal(g, a, s);
      }
    }
    return audience * ((1 - kLeafViewShare) * ZipfProbability(rank[id - 1], n_top, kProductZipf) +
                       kLeafViewShare * n_leaf / n_top *
                           ZipfProbability(leaf_rank[id - 1], n_leaf, kProductZipf));
  };
  double mean_share = 0;
  for (uint32_t id = 1; id <= w->products.size(); ++id) mean_share += view_share(id);
  mean_share /= std::max<size_t>(1, w->products.size());

  // Each SPU with 2 variants or more draws its cause, and is a candidate for it if the
  // influencers and its price allow (see kPairQuietInfluencers and kPairLogPriceRange).
  uint64_t eligible = 0;
  std::vector<std::pair<double, uint32_t>> candidates[Size(kPairCauses)];  // (key, index)
  for (size_t i = 0; i < w->spus.size(); ++i) {
    const Spu& s = w->spus[i];
    if (s.variants < 2) continue;
    ++eligible;
    Rng rng(StreamSeed(seed, kPairStream, i + 1));
    const uint8_t cause = static_cast<uint8_t>(rng.Uniform(Size(kPairCauses)));
    const uint32_t a = s.first_product, b = s.first_product + 1;
    if (cause == kPromotionCause ? promoted_by_top[b - 1] != 0
                                 : promoted_by_top[a - 1] == 2 || promoted_by_top[b - 1] == 2) {
      continue;
    }
    const double reference = kLeaves[s.leaf].price;  // the peers' typical price
    const double log_price = std::log(s.base_price / reference);
    if (log_price < kPairLogPriceRange[cause][0] || log_price > kPairLogPriceRange[cause][1]) {
      continue;
    }
    const double popularity = (view_share(a) + view_share(b)) / 2 / mean_share;
    candidates[cause].emplace_back(cause == kPromotionCause
                                       ? std::abs(std::log(popularity / kPromotionPairPopularity))
                                       : -popularity,
                                   static_cast<uint32_t>(i));
  }
  // planted_pair_percent of the eligible SPUs, a third for each cause.
  const uint64_t wanted =
      static_cast<uint64_t>(std::llround(eligible * w->options.planted_pair_percent / 100));
  std::vector<uint32_t> chosen;
  for (size_t c = 0; c < Size(kPairCauses); ++c) {
    auto& list = candidates[c];
    const uint64_t share = std::min<uint64_t>(
        list.size(), wanted / Size(kPairCauses) + (c < wanted % Size(kPairCauses) ? 1 : 0));
    std::partial_sort(list.begin(), list.begin() + share, list.end());
    for (uint64_t k = 0; k < share; ++k) chosen.push_back(list[k].second);
  }
  std::sort(chosen.begin(), chosen.end());

  for (uint32_t index : chosen) {
    const Spu& s = w->spus[index];
    Rng rng(StreamSeed(seed, kPairStream, index + 1));
    PlantedPair pair;
    pair.winner = s.first_product;
    pair.loser = s.first_product + 1;
    pair.cause = static_cast<uint8_t>(rng.Uniform(Size(kPairCauses)));  // as drawn above
    pair.review_noise = static_cast<uint8_t>(rng.Uniform(20));
    w->pairs.push_back(pair);
    Product& a = w->products[pair.winner - 1];
    Product& b = w->products[pair.loser - 1];
    a.pair = b.pair = static_cast<uint32_t>(w->pairs.size());
    a.price = b.price = ShelfPrice(s.base_price);
    a.rating = b.rating = kPairRating;
    if (pair.cause == kPriceCause) {
      a.price = ShelfPrice(kPairWinnerPrice * s.base_price);
      b.price = ShelfPrice(kPairLoserPrice * s.base_price);
    } else if (pair.cause == kRatingCause) {
      a.rating = kPairWinnerRating;
      b.rating = kPairLoserRating;
    } else {
      // The most followed influencers of the category that promote neither A nor B yet.
      const Range& range = w->influencers[s.top];
      const uint64_t promoters =
          kPairMinPromoters + rng.Uniform(kPairMaxPromoters - kPairMinPromoters + 1);
      uint64_t added = 0;
      for (uint64_t i = range.begin; i < range.end && added < promoters; ++i) {
        std::vector<Promotion>& list = w->promotions[i];
        if (std::any_of(list.begin(), list.end(), [&](const Promotion& p) {
              return p.product == pair.winner || p.product == pair.loser;
            })) {
          continue;
        }
        list.push_back(
            {pair.winner, w->start_ms + 1 + static_cast<int64_t>(rng.Uniform(kEventWindowMs / 2))});
        ++added;
      }
    }
  }
}

// The world of `options`; with `catalogue_only` (enough for PlanFor), without the buyers'
// inputs: leaf popularity orders, ratings, promotions, planted pairs and purchase rates.
World BuildWorld(const Options& options, bool catalogue_only = false) {
  World w;
  w.options = options;
  w.start_ms = options.end_time_ms - kEventWindowMs;
  const double scale = options.scale;
  const uint64_t seed = options.seed;
  const size_t top_count = kTopCount;
  w.top_count = top_count;

  // Taxonomy: tops, then mids, then leaves, each in table order.
  std::vector<double> top_weights;
  for (size_t t = 0; t < top_count; ++t) {
    Category c;
    c.name = kTops[t].name;
    c.path = c.name;
    c.level = 1;
    w.categories.push_back(c);
    top_weights.push_back(kTops[t].weight);
    w.top_materials.push_back(SplitBar(kTops[t].materials));
    w.top_merchant_nouns.push_back(SplitBar(kTops[t].merchant_nouns));
  }
  auto top_index = [&](const char* name) {
    for (size_t t = 0; t < top_count; ++t) {
      if (absl::string_view(kTops[t].name) == name) return t;
    }
    return size_t{0};
  };
  std::vector<uint64_t> leaf_mid(kLeafCount);
  for (size_t l = 0; l < kLeafCount; ++l) {
    size_t t = top_index(kLeaves[l].top);
    std::string path = absl::StrCat(kTops[t].name, " > ", kLeaves[l].mid);
    uint64_t mid = 0;
    for (size_t c = top_count; c < w.categories.size(); ++c) {
      if (w.categories[c].path == path) mid = c + 1;
    }
    if (mid == 0) {
      Category c;
      c.name = kLeaves[l].mid;
      c.path = path;
      c.level = 2;
      c.parent = t + 1;
      w.categories.push_back(c);
      mid = w.categories.size();
    }
    leaf_mid[l] = mid;
    w.leaf_top.push_back(static_cast<uint8_t>(t));
    w.leaf_terms.push_back(SplitBar(kLeaves[l].terms));
  }
  w.first_leaf = w.categories.size() + 1;
  for (size_t l = 0; l < kLeafCount; ++l) {
    Category c;
    c.name = kLeaves[l].leaf;
    c.path = absl::StrCat(w.categories[leaf_mid[l] - 1].path, " > ", c.name);
    c.level = 3;
    c.parent = leaf_mid[l];
    w.categories.push_back(c);
  }

  // Brands, each specialised in one to three top-level categories.
  std::vector<double> top_cumulative;
  double sum = 0;
  for (double x : top_weights) top_cumulative.push_back(sum += x);
  uint64_t brand_count =
      static_cast<uint64_t>(std::llround(kBrandsBase + kBrandsPerSqrtScale * std::sqrt(scale)));
  w.top_brands.resize(top_count);
  for (uint64_t b = 1; b <= brand_count; ++b) {
    Rng rng(StreamSeed(seed, kBrandStream, b));
    w.brand_names.push_back(BrandName(b - 1, seed));
    double tier = rng.Double();
    w.brand_tier.push_back(tier < 0.35 ? 0 : tier < 0.8 ? 1 : 2);
    w.brand_country.push_back(static_cast<uint8_t>(Weighted(&rng, kCountryWeights)));
    size_t first = Weighted(&rng, top_cumulative);
    w.top_brands[first].push_back(static_cast<uint32_t>(b));
    for (int extra = 0; extra < 2; ++extra) {
      if (!rng.Bernoulli(0.3)) continue;
      size_t t = Weighted(&rng, top_cumulative);
      auto& list = w.top_brands[t];
      if (std::find(list.begin(), list.end(), b) == list.end()) list.push_back(b);
    }
  }
  for (size_t t = 0; t < top_count; ++t) {
    if (w.top_brands[t].empty()) w.top_brands[t].push_back(t % brand_count + 1);
    w.top_brand_zipf.emplace_back(w.top_brands[t].size(), kBrandZipf);
  }

  // Merchants and influencers: contiguous id ranges per top-level category, lower ids more
  // popular.
  uint64_t merchant_count = std::max<uint64_t>(
      2 * top_count, static_cast<uint64_t>(std::llround(kMerchantsPerScale * scale)));
  w.merchants = AllocateRanges(merchant_count, top_weights, kMerchantZipf);
  uint64_t influencer_count = std::max<uint64_t>(
      2 * top_count, static_cast<uint64_t>(std::llround(kInfluencersPerScale * scale)));
  w.influencers = AllocateRanges(influencer_count, top_weights, kInfluencerZipf);
  w.content_first.assign(influencer_count + 2, 1);
  for (uint64_t i = 1; i <= influencer_count; ++i) {
    Rng rng(StreamSeed(seed, kContentCountStream, i));
    uint64_t posts = 1 + std::min<uint64_t>(29, static_cast<uint64_t>(rng.Exponential(3.5)));
    w.content_first[i + 1] = w.content_first[i] + static_cast<uint32_t>(posts);
  }

  // SPUs per leaf, then their product variants; ids are contiguous per leaf, hence per top.
  uint64_t spu_count =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::llround(kSpusPerScale * scale)));
  std::vector<double> leaf_weights;
  std::vector<int> leaves_per_top(top_count, 0);
  for (size_t l = 0; l < kLeafCount; ++l) ++leaves_per_top[w.leaf_top[l]];
  for (size_t l = 0; l < kLeafCount; ++l) {
    Rng rng(StreamSeed(seed, kLeafStream, l));
    leaf_weights.push_back(top_weights[w.leaf_top[l]] / leaves_per_top[w.leaf_top[l]] *
                           (0.6 + 0.8 * rng.Double()));
  }
  std::vector<uint64_t> spus_per_leaf = Allocate(spu_count, leaf_weights, 0);
  w.top_products.resize(top_count);
  w.top_first_leaf.assign(top_count + 1, static_cast<uint32_t>(kLeafCount));
  for (size_t l = kLeafCount; l-- > 0;) w.top_first_leaf[w.leaf_top[l]] = static_cast<uint32_t>(l);
  for (size_t t = top_count; t-- > 0;) {
    w.top_first_leaf[t] = std::min(w.top_first_leaf[t], w.top_first_leaf[t + 1]);
  }
  w.leaf_first_product.reserve(kLeafCount + 1);
  w.spus.reserve(spu_count);
  w.products.reserve(spu_count * 4);
  uint64_t product_id = 1;
  for (size_t l = 0; l < kLeafCount; ++l) {
    const LeafSpec& leaf = kLeaves[l];
    const size_t t = w.leaf_top[l];
    if (w.top_products[t].begin == 0) w.top_products[t].begin = product_id;
    w.leaf_first_product.push_back(static_cast<uint32_t>(product_id));
    for (uint64_t k = 0; k < spus_per_leaf[l]; ++k) {
      const uint64_t spu_id = w.spus.size() + 1;
      Rng rng(StreamSeed(seed, kSpuStream, spu_id));
      Spu s;
      s.leaf = static_cast<uint16_t>(l);
      s.top = static_cast<uint8_t>(t);
      s.brand = w.top_brands[t][w.top_brand_zipf[t].Sample(&rng)];
      s.model_a = static_cast<uint8_t>(rng.Uniform(Size(kModelA)));
      s.model_b = static_cast<uint8_t>(rng.Uniform(Size(kModelB)));
      s.model_n = static_cast<uint8_t>(rng.Uniform(Size(kModelN)));
      s.term = static_cast<uint8_t>(rng.Uniform(w.leaf_terms[l].size()));
      if (!w.top_materials[t].empty() && rng.Bernoulli(0.8)) {
        s.material = static_cast<uint8_t>(1 + rng.Uniform(w.top_materials[t].size()));
        s.material_in_title = rng.Bernoulli(0.5);
      }
      switch (leaf.gender) {
        case 'W':
          s.gender = 0;
          break;
        case 'M':
          s.gender = 1;
          break;
        case '*': {
          double g = rng.Double();
          s.gender = g < 0.4 ? 0 : g < 0.7 ? 1 : 2;
          break;
        }
        default:
          s.gender = 2;
      }
      s.age_peak = static_cast<uint8_t>(Weighted(&rng, kTops[t].age));
      s.quality = static_cast<float>(rng.Double());
      s.base_price = static_cast<float>(leaf.price * kTierPrice[w.brand_tier[s.brand - 1]] *
                                        std::exp(0.35 * rng.Normal()));
      s.variants = static_cast<uint8_t>(
          1 + std::min<uint64_t>(7, static_cast<uint64_t>(rng.Exponential(3.0))));
      s.first_product = static_cast<uint32_t>(product_id);
      const std::vector<std::string>& sizes = SizeValues(leaf.size_kind, s.gender);
      for (int v = 0; v < s.variants; ++v, ++product_id) {
        Rng prng(StreamSeed(seed, kProductStream, product_id));
        Product p;
        p.spu = static_cast<uint32_t>(spu_id);
        if (kTops[t].has_color) p.color = static_cast<uint8_t>(1 + prng.Uniform(Size(kColors)));
        if (!sizes.empty()) p.size = static_cast<uint8_t>(1 + prng.Uniform(sizes.size()));
        const Range& merchants = w.merchants[t];
        p.merchant = static_cast<uint32_t>(merchants.begin + merchants.zipf.Sample(&prng));
        p.price = ShelfPrice(s.base_price * (1.0 + 0.08 * (2.0 * prng.Double() - 1.0)));
        w.products.push_back(p);
      }
      w.spus.push_back(s);
    }
    w.top_products[t].end = product_id;
  }
  for (size_t t = 0; t < top_count; ++t) {
    Range& range = w.top_products[t];
    if (range.begin == 0) range.begin = range.end = product_id;
    range.zipf = ZipfSampler(range.size(), kProductZipf);
    w.top_product_perm.emplace_back(range.size(), StreamSeed(seed, kPermutationStream, t));
  }
  w.leaf_first_product.push_back(static_cast<uint32_t>(product_id));
  w.buyers = std::max<uint64_t>(50, static_cast<uint64_t>(std::llround(kBuyersPerScale * scale)));
  if (catalogue_only) return w;

  // Within a leaf, products keep the order of their top-level popularity.
  w.leaf_order.resize(w.products.size());
  for (size_t t = 0; t < top_count; ++t) {
    const Range& range = w.top_products[t];
    for (uint64_t r = 0; r < range.size(); ++r) {
      const uint64_t id = range.begin + w.top_product_perm[t](r);
      w.leaf_order[id - 1] = static_cast<uint32_t>(r);  // the rank, for the sort below
    }
  }
  for (size_t l = 0; l < kLeafCount; ++l) {
    const uint32_t first = w.leaf_first_product[l], end = w.leaf_first_product[l + 1];
    std::vector<std::pair<uint32_t, uint32_t>> by_rank;  // (rank, id)
    for (uint32_t id = first; id < end; ++id) by_rank.emplace_back(w.leaf_order[id - 1], id);
    std::sort(by_rank.begin(), by_rank.end());
    for (size_t k = 0; k < by_rank.size(); ++k) w.leaf_order[first - 1 + k] = by_rank[k].second;
    w.leaf_zipf.emplace_back(end - first, kProductZipf);
  }

  // Ratings: the first draw of the product's second stream (EmitProducts continues it).
  for (size_t i = 0; i < w.products.size(); ++i) {
    Product& p = w.products[i];
    const Spu& s = w.spus[p.spu - 1];
    Rng rng(StreamSeed(seed, kProductStream, i + 1) ^ 0x5bd1e995);
    const double rating = 3.0 + 1.8 * s.quality + 0.25 * rng.Normal();
    p.rating = static_cast<float>(RoundTo(std::min(5.0, std::max(1.0, rating)), 1));
  }

  // The influencers' drawn promotions, then the planted pairs, then the purchase rates.
  w.promotions.resize(w.influencer_count() + 1);
  InfluencerDraws draws;
  for (uint64_t i = 1; i <= w.influencer_count(); ++i) {
    DrawInfluencer(w, i, &draws);
    w.promotions[i] = draws.promoted;
  }
  PlantPairs(&w);
  for (Product& p : w.products) {
    const Spu& s = w.spus[p.spu - 1];
    const double reference = kLeaves[s.leaf].price;  // the peers' typical price
    p.purchase_rate = static_cast<float>(PurchaseRate(p.rating, p.price, reference));
  }
  return w;
}

// Builds records in two reused messages and hands them to the sink, counting them.
class Emitter {
 public:
  Emitter(const RecordSink& sink, const RecordSink& withheld,
          const std::function<absl::Status(const Planted&)>& planted, int64_t update_time_ms)
      : sink_(sink), withheld_(withheld), planted_(planted), update_time_ms_(update_time_ms) {}

  // While on, records go to the withheld sink (or nowhere) and count as withheld.
  void set_withholding(bool on) { withholding_ = on; }

  bool ok() const { return status_.ok(); }
  const absl::Status& status() const { return status_; }
  const Stats& stats() const { return stats_; }

  // Starts an entity; fill it, then call EmitEntity.
  v1::Entity* NewEntity(v1::EntityType type, uint64_t id, std::string name) {
    v1::Entity* entity = entity_record_.mutable_entity();
    entity->Clear();
    entity->mutable_key()->set_type(type);
    entity->mutable_key()->set_id(id);
    entity->set_name(std::move(name));
    entity->set_update_time_ms(update_time_ms_);
    return entity;
  }

  void EmitEntity() {
    if (!status_.ok()) return;
    if (withholding_) return Withhold(entity_record_);
    ++stats_.entities[entity_record_.entity().key().type()];
    status_ = sink_(entity_record_);
  }

  void Edge(v1::EntityType src_type, uint64_t src, v1::EdgeType type, v1::EntityType dst_type,
            uint64_t dst, int64_t time_ms, double weight = 1.0) {
    if (!status_.ok()) return;
    v1::Edge* edge = edge_record_.mutable_edge();
    edge->mutable_src()->set_type(src_type);
    edge->mutable_src()->set_id(src);
    edge->set_type(type);
    edge->mutable_dst()->set_type(dst_type);
    edge->mutable_dst()->set_id(dst);
    edge->set_time_ms(time_ms);
    edge->set_weight(weight);
    if (withholding_) return Withhold(edge_record_);
    ++stats_.edges[type];
    status_ = sink_(edge_record_);
  }

  // Hands a planted ground truth to Options::planted, counting the pairs.
  void Plant(const Planted& planted) {
    if (!status_.ok()) return;
    if (planted.kind == Planted::kPair) ++stats_.planted_pairs;
    if (planted_) status_ = planted_(planted);
  }

 private:
  void Withhold(const v1::ImportRecord& record) {
    ++stats_.withheld;
    if (withheld_) status_ = withheld_(record);
  }

  const RecordSink& sink_;
  const RecordSink& withheld_;
  const std::function<absl::Status(const Planted&)>& planted_;
  bool withholding_ = false;
  const int64_t update_time_ms_;
  v1::ImportRecord entity_record_;
  v1::ImportRecord edge_record_;
  Stats stats_;
  absl::Status status_;
};

void SetAttribute(v1::Entity* entity, const char* key, std::string value) {
  (*entity->mutable_attributes())[key] = std::move(value);
}

void SetMetric(v1::Entity* entity, const char* key, double value) {
  (*entity->mutable_metrics())[key] = value;
}

std::string ModelName(const Spu& s) {
  return absl::StrCat(kModelA[s.model_a], " ", kModelB[s.model_b], kModelN[s.model_n]);
}

std::string SpuName(const World& w, const Spu& s) {
  return absl::StrCat(w.brand_names[s.brand - 1], " ", ModelName(s), " ",
                      w.leaf_terms[s.leaf][s.term]);
}

// E.g. "Nimbus Trail Runner 2 Men's Running Shoes, Blue, Size 42".
std::string ProductTitle(const World& w, const Spu& s, const Product& p) {
  const LeafSpec& leaf = kLeaves[s.leaf];
  const std::string& term = w.leaf_terms[s.leaf][s.term];
  absl::string_view top = kTops[s.top].name;
  std::string title = absl::StrCat(w.brand_names[s.brand - 1], " ", ModelName(s), " ");
  bool gendered_top = top == "Clothing" || top == "Shoes" || top == "Sports" ||
                      top == "Jewelry & Accessories" || leaf.gender == '*';
  if (gendered_top && s.gender != 2 && term.find('\'') == std::string::npos) {
    title += s.gender == 0 ? "Women's " : "Men's ";
  }
  if (s.material != 0 && s.material_in_title) {
    absl::StrAppend(&title, w.top_materials[s.top][s.material - 1], " ");
  }
  title += term;
  if (p.color != 0) absl::StrAppend(&title, ", ", kColors[p.color - 1]);
  if (p.size != 0) {
    const std::string& size = SizeValues(leaf.size_kind, s.gender)[p.size - 1];
    bool numeric = leaf.size_kind == 'L' || leaf.size_kind == 'S';
    absl::StrAppend(&title, ", ", numeric ? "Size " : "", size);
  }
  return title;
}

void EmitTaxonomy(const World& w, Emitter* e) {
  for (size_t i = 0; i < w.categories.size(); ++i) {
    const Category& c = w.categories[i];
    v1::Entity* entity = e->NewEntity(v1::CATEGORY, i + 1, c.name);
    SetAttribute(entity, "path", c.path);
    SetAttribute(entity, "level", absl::StrCat(c.level));
    e->EmitEntity();
  }
  for (size_t i = 0; i < w.categories.size(); ++i) {
    const Category& c = w.categories[i];
    if (c.parent == 0) continue;
    e->Edge(v1::CATEGORY, i + 1, v1::SUBCATEGORY_OF, v1::CATEGORY, c.parent,
            w.start_ms - 365 * kDayMs);
  }
}

void EmitBrandsAndMerchants(const World& w, Emitter* e) {
  for (size_t b = 0; b < w.brand_names.size(); ++b) {
    v1::Entity* entity = e->NewEntity(v1::BRAND, b + 1, w.brand_names[b]);
    SetAttribute(entity, "tier", kBrandTiers[w.brand_tier[b]]);
    SetAttribute(entity, "country", kCountries[w.brand_country[b]]);
    std::string categories;
    for (size_t t = 0; t < w.top_brands.size(); ++t) {
      const auto& list = w.top_brands[t];
      if (std::find(list.begin(), list.end(), b + 1) != list.end()) {
        absl::StrAppend(&categories, categories.empty() ? "" : ",", kTops[t].name);
      }
    }
    SetAttribute(entity, "categories", categories);
    e->EmitEntity();
  }
  for (uint64_t m = 1; m <= w.merchant_count(); ++m) {
    const int t = w.TopOfMerchant(m);
    const uint64_t k = m - w.merchants[t].begin;  // index within its category
    Rng rng(StreamSeed(w.options.seed, kMerchantStream, m));
    constexpr uint64_t kHeads = Size(kMerchantHeads);
    const auto& nouns = w.top_merchant_nouns[t];
    std::string name = absl::StrCat(kMerchantHeads[(k + w.options.seed) % kHeads], " ",
                                    nouns[(k / kHeads) % nouns.size()]);
    const uint64_t per_city = kHeads * nouns.size();
    if (k >= per_city) absl::StrAppend(&name, " ", kCities[(k / per_city - 1) % Size(kCities)]);
    if (k >= per_city * (Size(kCities) + 1)) {
      absl::StrAppend(&name, " ", k / (per_city * (Size(kCities) + 1)) + 1);
    }
    v1::Entity* entity = e->NewEntity(v1::MERCHANT, m, std::move(name));
    SetAttribute(entity, "main_category", kTops[t].name);
    SetAttribute(entity, "country", kCountries[Weighted(&rng, kCountryWeights)]);
    SetMetric(entity, "rating", RoundTo(3.6 + 1.35 * rng.Double(), 1));
    e->EmitEntity();
  }
}

// Options::unassigned_percent: whether SPU `spu` is new, whether product `product` lost its
// INSTANCE_OF edge.
bool Withheld(const Options& options, uint64_t kind, uint64_t id) {
  if (options.unassigned_percent <= 0) return false;
  Rng rng(StreamSeed(options.seed, kWithheldStream, (kind << 40) | id));
  return static_cast<double>(rng.Uniform(10000)) < options.unassigned_percent * 100;
}
constexpr uint64_t kNewSpu = 1, kUnassignedProduct = 2;

void EmitSpus(const World& w, Emitter* e) {
  for (size_t i = 0; i < w.spus.size(); ++i) {
    const Spu& s = w.spus[i];
    e->set_withholding(Withheld(w.options, kNewSpu, i + 1));
    v1::Entity* entity = e->NewEntity(v1::SPU, i + 1, SpuName(w, s));
    SetAttribute(entity, "brand", w.brand_names[s.brand - 1]);
    SetAttribute(entity, "model", ModelName(s));
    SetAttribute(entity, "category", kLeaves[s.leaf].leaf);
    SetAttribute(entity, "gender_target", kGenderTargets[s.gender]);
    SetMetric(entity, "variants", s.variants);
    SetMetric(entity, "list_price", ShelfPrice(s.base_price));
    e->EmitEntity();
  }
  e->set_withholding(false);
}

// Adds `id` to `seen` unless present; returns whether it was added.
bool AddUnique(std::vector<uint64_t>* seen, uint64_t id) {
  if (std::find(seen->begin(), seen->end(), id) != seen->end()) return false;
  seen->push_back(id);
  return true;
}

void EmitInfluencers(const World& w, Emitter* e) {
  const uint64_t seed = w.options.seed;
  InfluencerDraws draws;
  std::vector<uint64_t> featured;
  for (uint64_t i = 1; i <= w.influencer_count() && e->ok(); ++i) {
    const int t = w.TopOfInfluencer(i);
    const uint64_t rank = i - w.influencers[t].begin;
    DrawInfluencer(w, i, &draws);
    constexpr uint64_t kNames = Size(kFemaleNames);
    std::string name = absl::StrCat(
        draws.female ? kFemaleNames[(rank + seed) % kNames] : kMaleNames[(rank + seed) % kNames],
        " ", kTops[t].niche_word);
    if (rank >= kNames) absl::StrAppend(&name, " ", rank / kNames + 1);
    v1::Entity* entity = e->NewEntity(v1::INFLUENCER, i, std::move(name));
    SetAttribute(entity, "niche", kTops[t].name);
    SetAttribute(entity, "platform", kPlatforms[draws.platform]);
    SetAttribute(entity, "gender", draws.female ? "F" : "M");
    SetMetric(entity, "followers", std::round(draws.followers));
    SetMetric(entity, "engagement_rate", draws.engagement_rate);
    e->EmitEntity();

    // The drawn promotions, then the planted ones (rule 5); content features drawn ones.
    for (const Promotion& p : w.promotions[i]) {
      e->Edge(v1::INFLUENCER, i, v1::PROMOTES, v1::PRODUCT, p.product, p.time_ms);
    }
    const std::vector<Promotion>& promoted = draws.promoted;
    for (uint64_t c = w.content_first[i]; c < w.content_first[i + 1]; ++c) {
      Rng crng(StreamSeed(seed, kContentStream, c));
      const int64_t time_ms = w.start_ms + 1 + static_cast<int64_t>(crng.Uniform(kEventWindowMs));
      featured.clear();
      if (w.top_products[t].size() > 0) {
        const uint64_t wanted = 1 + crng.Uniform(4);
        for (uint64_t k = 0; k < wanted * 2 && featured.size() < wanted; ++k) {
          uint64_t p = !promoted.empty() && crng.Bernoulli(0.7)
                           ? promoted[crng.Uniform(promoted.size())].product
                           : w.SampleProduct(t, &crng);
          AddUnique(&featured, p);
        }
      }
      std::string title;
      if (featured.empty()) {
        title = absl::StrCat(kTops[t].niche_word, " haul #", c - w.content_first[i] + 1);
      } else {
        const Product& p = w.products[featured[0] - 1];
        const Spu& s = w.spus[p.spu - 1];
        const std::string spu = SpuName(w, s);
        const char* leaf = kLeaves[s.leaf].leaf;
        switch (crng.Uniform(5)) {
          case 0:
            title = absl::StrCat("Unboxing the ", spu);
            break;
          case 1:
            title = absl::StrCat(spu, " review after 30 days");
            break;
          case 2:
            title = absl::StrCat("Top picks: ", leaf, " this season");
            break;
          case 3:
            title = absl::StrCat("Is the ", spu, " worth it?");
            break;
          default:
            title = absl::StrCat("My favourite ", leaf, " right now");
        }
      }
      v1::Entity* content = e->NewEntity(v1::CONTENT, c, std::move(title));
      SetAttribute(content, "format", kContentFormats[crng.Uniform(Size(kContentFormats))]);
      SetAttribute(content, "niche", kTops[t].name);
      const double views = std::round(std::exp(8.0 + 1.5 * crng.Normal()));
      SetMetric(content, "views", views);
      SetMetric(content, "likes", std::round(views * (0.02 + 0.08 * crng.Double())));
      e->EmitEntity();
      e->Edge(v1::INFLUENCER, i, v1::POSTED, v1::CONTENT, c, time_ms);
      for (uint64_t p : featured) e->Edge(v1::CONTENT, c, v1::FEATURES, v1::PRODUCT, p, time_ms);
    }
  }
}

// Per product, what the buyers' purchases add up to.
struct Sales {
  std::vector<uint32_t> units_30d;
  std::vector<uint32_t> units_total;
};

void EmitBuyers(const World& w, Emitter* e, Sales* sales) {
  const uint64_t seed = w.options.seed;
  const int64_t end_ms = w.options.end_time_ms;
  const int64_t sales_start_ms = end_ms - kSalesWindowMs;
  const size_t top_count = w.top_count;
  std::vector<double> interest(top_count);
  std::vector<double> cumulative(top_count);
  std::vector<double> leaf_cumulative;
  std::vector<uint64_t> seen;
  std::vector<uint64_t> followed;
  std::vector<size_t> favourites;
  uint64_t b = 0;
  // A view of `product` at `viewed` and the rest of its funnel, drawn from `rng`.
  auto funnel = [&](uint64_t product, int64_t viewed, Rng* rng) {
    e->Edge(v1::BUYER, b, v1::VIEWED, v1::PRODUCT, product, viewed);
    if (!rng->Bernoulli(kClickRate)) return;
    const int64_t clicked = std::min(end_ms, viewed + rng->Range(2 * kSecondMs, 10 * kMinuteMs));
    e->Edge(v1::BUYER, b, v1::CLICKED, v1::PRODUCT, product, clicked);
    if (!rng->Bernoulli(kCartRate)) return;
    const int64_t carted = std::min(end_ms, clicked + rng->Range(10 * kSecondMs, kHourMs));
    e->Edge(v1::BUYER, b, v1::ADDED_TO_CART, v1::PRODUCT, product, carted);
    if (!rng->Bernoulli(w.products[product - 1].purchase_rate)) return;
    const int64_t purchased = std::min(end_ms, carted + rng->Range(kMinuteMs, 48 * kHourMs));
    const double q = rng->Double();
    const uint32_t quantity = q < 0.75 ? 1 : q < 0.93 ? 2 : 3;
    e->Edge(v1::BUYER, b, v1::PURCHASED, v1::PRODUCT, product, purchased, quantity);
    sales->units_total[product - 1] += quantity;
    if (purchased >= sales_start_ms) sales->units_30d[product - 1] += quantity;
  };
  for (b = 1; b <= w.buyers && e->ok(); ++b) {
    Rng rng(StreamSeed(seed, kBuyerStream, b));
    const size_t gender = Weighted(&rng, kBuyerGenderWeights);
    const size_t age = Weighted(&rng, kAgeBandWeights);
    const char* country = kCountries[Weighted(&rng, kCountryWeights)];
    const char* first = gender == 0   ? kFemaleNames[rng.Uniform(Size(kFemaleNames))]
                        : gender == 1 ? kMaleNames[rng.Uniform(Size(kMaleNames))]
                                      : kNeutralNames[rng.Uniform(Size(kNeutralNames))];
    const char initial = kInitials[rng.Uniform(Size(kInitials) - 1)];
    v1::Entity* entity =
        e->NewEntity(v1::BUYER, b, absl::StrCat(first, " ", absl::string_view(&initial, 1), "."));
    SetAttribute(entity, "gender", kBuyerGenders[gender]);
    SetAttribute(entity, "age_band", kAgeBands[age]);
    SetAttribute(entity, "country", country);
    e->EmitEntity();

    // Interests: the category's size, leaning on gender and age, plus two favourites.
    for (size_t t = 0; t < top_count; ++t) {
      interest[t] = w.top_products[t].size() == 0
                        ? 0.0
                        : kTops[t].weight * kTops[t].gender[gender] * kTops[t].age[age];
    }
    for (int f = 0; f < 2; ++f) {
      double sum = 0;
      for (size_t t = 0; t < top_count; ++t) cumulative[t] = sum += interest[t];
      interest[Weighted(&rng, cumulative)] *= 3.0;
    }
    double sum = 0;
    for (size_t t = 0; t < top_count; ++t) cumulative[t] = sum += interest[t];

    // Rule 3: favourite leaves, from the interests, by product count (fewer of the other
    // gender).
    Rng leaf_rng(StreamSeed(seed, kFavouriteLeafStream, b));
    favourites.clear();
    const uint64_t favourite_count = 1 + leaf_rng.Uniform(kMaxFavouriteLeaves);
    for (uint64_t k = 0; k < favourite_count; ++k) {
      const size_t t = Weighted(&leaf_rng, cumulative);
      const size_t first_leaf = w.top_first_leaf[t];
      leaf_cumulative.clear();
      double leaf_sum = 0;
      for (size_t l = first_leaf; l < w.top_first_leaf[t + 1]; ++l) {
        const char target = kLeaves[l].gender;
        const bool other = (gender == 0 && target == 'M') || (gender == 1 && target == 'W');
        leaf_sum += (w.leaf_first_product[l + 1] - w.leaf_first_product[l]) *
                    (other ? kOtherGenderAccept : 1.0);
        leaf_cumulative.push_back(leaf_sum);
      }
      if (leaf_sum <= 0) continue;
      const size_t leaf = first_leaf + Weighted(&leaf_rng, leaf_cumulative);
      if (std::find(favourites.begin(), favourites.end(), leaf) == favourites.end()) {
        favourites.push_back(leaf);
      }
    }

    followed.clear();
    const uint64_t follows =
        std::min<uint64_t>(kMaxFollows, static_cast<uint64_t>(rng.Exponential(kMeanFollows)));
    for (uint64_t k = 0; k < follows; ++k) {
      const size_t t = Weighted(&rng, cumulative);
      const Range& range = w.influencers[t];
      const uint64_t influencer = range.begin + range.zipf.Sample(&rng);
      if (!AddUnique(&followed, influencer)) continue;
      e->Edge(v1::BUYER, b, v1::FOLLOWS, v1::INFLUENCER, influencer,
              w.start_ms + 1 + static_cast<int64_t>(rng.Uniform(kEventWindowMs)));
    }

    // Rule 1: views of products promoted by the influencers followed, after the promotion.
    seen.clear();
    Rng promoted_rng(StreamSeed(seed, kPromotedViewStream, b));
    for (uint64_t influencer : followed) {
      if (!promoted_rng.Bernoulli(kPromotedViewRate)) continue;
      const std::vector<Promotion>& promotions = w.promotions[influencer];
      if (promotions.empty()) continue;
      const Promotion& promotion = promotions[promoted_rng.Uniform(promotions.size())];
      const Spu& s = w.spus[w.products[promotion.product - 1].spu - 1];
      if (!promoted_rng.Bernoulli(GenderAccept(gender, s.gender))) continue;
      if (promotion.time_ms >= end_ms || !AddUnique(&seen, promotion.product)) continue;
      const int64_t viewed = promotion.time_ms + 1 +
                             static_cast<int64_t>(promoted_rng.Uniform(end_ms - promotion.time_ms));
      funnel(promotion.product, viewed, &promoted_rng);
    }

    // The funnel: distinct products viewed, some clicked, carted, purchased.
    const double activity = rng.Double();
    const double mean_views = kMeanViews * (activity < 0.7 ? 0.5 : activity < 0.95 ? 1.5 : 5.0);
    const int views =
        1 + static_cast<int>(std::min<double>(kMaxViews - 1, rng.Exponential(mean_views)));
    for (int v = 0; v < views; ++v) {
      uint64_t product = 0;
      for (int attempt = 0; attempt < kViewAttempts; ++attempt) {
        if (!favourites.empty() && rng.Bernoulli(kLeafViewShare)) {
          product = w.SampleLeafProduct(favourites[rng.Uniform(favourites.size())], &rng);
        } else {
          product = w.SampleProduct(static_cast<int>(Weighted(&rng, cumulative)), &rng);
        }
        if (product == 0) continue;
        // Rule 5: the two products of a planted pair share their popularity.
        const uint32_t pair = w.products[product - 1].pair;
        if (pair != 0) {
          product = rng.Bernoulli(0.5) ? w.pairs[pair - 1].winner : w.pairs[pair - 1].loser;
        }
        if (rng.Bernoulli(Appeal(gender, age, w.spus[w.products[product - 1].spu - 1]))) break;
      }
      if (product == 0 || !AddUnique(&seen, product)) continue;
      const int64_t viewed = w.start_ms + 1 + static_cast<int64_t>(rng.Uniform(kEventWindowMs));
      funnel(product, viewed, &rng);
    }
  }
}

void EmitProducts(const World& w, const Sales& sales, Emitter* e) {
  const uint64_t seed = w.options.seed;
  for (size_t i = 0; i < w.products.size() && e->ok(); ++i) {
    const uint64_t id = i + 1;
    const Product& p = w.products[i];
    const Spu& s = w.spus[p.spu - 1];
    const LeafSpec& leaf = kLeaves[s.leaf];
    Rng rng(StreamSeed(seed, kProductStream, id) ^ 0x5bd1e995);
    v1::Entity* entity = e->NewEntity(v1::PRODUCT, id, ProductTitle(w, s, p));
    if (p.color != 0) SetAttribute(entity, "color", kColors[p.color - 1]);
    if (s.material != 0) SetAttribute(entity, "material", w.top_materials[s.top][s.material - 1]);
    if (p.size != 0) SetAttribute(entity, "size", SizeValues(leaf.size_kind, s.gender)[p.size - 1]);
    SetAttribute(entity, "gender_target", kGenderTargets[s.gender]);
    const uint32_t units = sales.units_30d[i];
    SetMetric(entity, "price", p.price);
    SetMetric(entity, "sales_30d", units);
    SetMetric(entity, "gmv_30d", RoundTo(units * static_cast<double>(p.price), 2));
    SetMetric(entity, "rating", RoundTo(p.rating, 1));
    rng.Normal();  // the rating's noise, drawn by BuildWorld
    // Reviews follow the units sold; a planted pair's follow their mean (rule 5).
    double units_total = sales.units_total[i];
    double review_noise = static_cast<double>(rng.Uniform(20));
    if (p.pair != 0) {
      const PlantedPair& pair = w.pairs[p.pair - 1];
      units_total = (sales.units_total[pair.winner - 1] + sales.units_total[pair.loser - 1]) / 2.0;
      review_noise = pair.review_noise;
    }
    SetMetric(entity, "review_count",
              std::floor(units_total * (0.2 + 0.5 * s.quality)) + review_noise);
    e->EmitEntity();
    const int64_t listed = w.start_ms - static_cast<int64_t>(rng.Uniform(365 * kDayMs));
    // About 8% of the products are left uncategorized: the ones Categorize is for.
    if (rng.Uniform(100) >= kUncategorizedPercent) {
      e->Edge(v1::PRODUCT, id, v1::IN_CATEGORY, v1::CATEGORY, w.first_leaf + s.leaf, listed);
    }
    e->Edge(v1::PRODUCT, id, v1::HAS_BRAND, v1::BRAND, s.brand, listed);
    e->set_withholding(Withheld(w.options, kNewSpu, p.spu) ||
                       Withheld(w.options, kUnassignedProduct, id));
    e->Edge(v1::PRODUCT, id, v1::INSTANCE_OF, v1::SPU, p.spu, listed);
    e->set_withholding(false);
    e->Edge(v1::PRODUCT, id, v1::SOLD_BY, v1::MERCHANT, p.merchant, listed);
  }
}

// The planted ground truths: each product's audience (rule 4), then the pairs (rule 5).
void EmitPlanted(const World& w, Emitter* e) {
  Planted planted;
  planted.kind = Planted::kAudience;
  for (size_t i = 0; i < w.products.size() && e->ok(); ++i) {
    const Spu& s = w.spus[w.products[i].spu - 1];
    planted.product = i + 1;
    if (s.gender == 2) {
      planted.dimension = "age_band";
      planted.value = kAgeBands[s.age_peak];
    } else {
      planted.dimension = "gender";
      planted.value = kBuyerGenders[s.gender];  // F for women's products, M for men's
    }
    e->Plant(planted);
  }
  planted = Planted();
  planted.kind = Planted::kPair;
  for (const PlantedPair& pair : w.pairs) {
    planted.product = pair.winner;
    planted.other = pair.loser;
    planted.cause = kPairCauses[pair.cause];
    e->Plant(planted);
  }
}

}  // namespace

absl::Status ValidateOptions(const Options& options) {
  if (!(options.scale >= 0.001 && options.scale <= 1000)) {
    return absl::InvalidArgumentError(
        absl::StrCat("scale: ", options.scale, " is outside 0.001..1000"));
  }
  if (!(options.unassigned_percent >= 0 && options.unassigned_percent <= 50)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unassigned_percent: ", options.unassigned_percent, " is outside 0..50"));
  }
  if (!(options.planted_pair_percent >= 0 && options.planted_pair_percent <= 100)) {
    return absl::InvalidArgumentError(
        absl::StrCat("planted_pair_percent: ", options.planted_pair_percent, " is outside 0..100"));
  }
  if (options.end_time_ms <= kEventWindowMs + 400 * kDayMs) {
    return absl::InvalidArgumentError(
        absl::StrCat("end_time_ms: ", options.end_time_ms, " is too early (before 1971)"));
  }
  return absl::OkStatus();
}

Plan PlanFor(const Options& options) {
  World w = BuildWorld(options, /*catalogue_only=*/true);
  Plan plan;
  plan.entities[v1::CATEGORY] = w.categories.size();
  plan.entities[v1::BRAND] = w.brand_names.size();
  plan.entities[v1::SPU] = w.spus.size();
  plan.entities[v1::PRODUCT] = w.products.size();
  plan.entities[v1::MERCHANT] = w.merchant_count();
  plan.entities[v1::INFLUENCER] = w.influencer_count();
  plan.entities[v1::CONTENT] = w.content_count();
  plan.entities[v1::BUYER] = w.buyers;
  plan.first_leaf_category = w.first_leaf;
  plan.leaf_categories = kLeafCount;
  plan.top_categories = w.top_count;
  return plan;
}

uint64_t Stats::total_entities() const {
  uint64_t total = 0;
  for (uint64_t n : entities) total += n;
  return total;
}

uint64_t Stats::total_edges() const {
  uint64_t total = 0;
  for (uint64_t n : edges) total += n;
  return total;
}

absl::StatusOr<Stats> Generate(const Options& options, const RecordSink& sink) {
  absl::Status valid = ValidateOptions(options);
  if (!valid.ok()) return valid;
  const World w = BuildWorld(options);
  Emitter e(sink, options.withheld, options.planted, options.end_time_ms);
  EmitTaxonomy(w, &e);
  EmitBrandsAndMerchants(w, &e);
  EmitSpus(w, &e);
  EmitInfluencers(w, &e);
  Sales sales;
  sales.units_30d.assign(w.products.size(), 0);
  sales.units_total.assign(w.products.size(), 0);
  EmitBuyers(w, &e, &sales);
  EmitProducts(w, sales, &e);
  EmitPlanted(w, &e);
  if (!e.ok()) return e.status();
  return e.stats();
}

}  // namespace datagen
}  // namespace kg
