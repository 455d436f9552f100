// The same Kotlin library as pom.xml (which builds and tests it on the host JVM), as an Android
// library: the generated bindings + the idiomatic layer, with the core's .so files for each ABI
// from bindings/build-android.sh (cargo-ndk) under src/main/jniLibs.
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "cn.onevisit.kit"
    compileSdk = 35
    defaultConfig {
        minSdk = 26
        consumerProguardFiles("consumer-rules.pro")
        ndk { abiFilters += listOf("arm64-v8a", "armeabi-v7a", "x86_64") }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
    sourceSets["main"].java.srcDirs("src/main/kotlin")
    sourceSets["main"].jniLibs.srcDirs("src/main/jniLibs")
    // The JUnit suite runs on the host JVM through Maven (pom.xml); it needs a server process and
    // the host build of the core, which an Android unit-test task does not have.
    sourceSets["test"].java.srcDirs(emptyList<String>())
}

dependencies {
    // JNA as an Android archive: it carries libjnidispatch.so for each ABI.
    implementation("net.java.dev.jna:jna:5.19.1@aar")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.10.2")
}
