// swift-tools-version:5.9
// OneVisitKit: the OneVisit core for the iOS app. OneVisitFFIC is the XCFramework that
// bindings/build-ios.sh builds (static library + generated C header); OneVisitFFI is the generated
// Swift bindings (bindings/generate.sh); OneVisitKit is the Swift layer with async/await.
import PackageDescription

let package = Package(
    name: "OneVisitKit",
    platforms: [.iOS(.v16)],
    products: [
        .library(name: "OneVisitKit", targets: ["OneVisitKit"]),
    ],
    targets: [
        .binaryTarget(name: "OneVisitFFIC", path: "OneVisitFFIC.xcframework"),
        .target(name: "OneVisitFFI", dependencies: ["OneVisitFFIC"], path: "Sources/OneVisitFFI"),
        .target(name: "OneVisitKit", dependencies: ["OneVisitFFI"], path: "Sources/OneVisitKit"),
    ]
)
