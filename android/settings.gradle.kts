// The Android side of OneVisit. Needs the Android SDK (and the NDK + cargo-ndk to build the core's
// .so files first: bash bindings/build-android.sh).
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "onevisit-android"
include(":onevisit-kotlin")
include(":app")
