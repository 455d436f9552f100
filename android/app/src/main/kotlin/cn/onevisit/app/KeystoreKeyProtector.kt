package cn.onevisit.app

import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import cn.onevisit.ffi.KeyProtector
import cn.onevisit.ffi.KeyProtectorException
import java.security.KeyStore
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * Seals the device's signing-key seed with an AES-256-GCM key that never leaves the Android
 * Keystore (hardware-backed where the device has it). Sealed form: 12-byte IV ‖ ciphertext+tag.
 */
class KeystoreKeyProtector(private val alias: String = "onevisit-device-seed") : KeyProtector {
    private fun key(): SecretKey {
        val keyStore = KeyStore.getInstance("AndroidKeyStore").apply { load(null) }
        (keyStore.getKey(alias, null) as? SecretKey)?.let { return it }
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, "AndroidKeyStore")
        generator.init(
            KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setKeySize(256)
                .build(),
        )
        return generator.generateKey()
    }

    override fun seal(seed: ByteArray): ByteArray = refusedOnError {
        val cipher = Cipher.getInstance("AES/GCM/NoPadding").apply { init(Cipher.ENCRYPT_MODE, key()) }
        cipher.iv + cipher.doFinal(seed)
    }

    override fun open(sealed: ByteArray): ByteArray = refusedOnError {
        require(sealed.size > 12 + 16) { "sealed seed too short" }
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.DECRYPT_MODE, key(), GCMParameterSpec(128, sealed.copyOfRange(0, 12)))
        cipher.doFinal(sealed, 12, sealed.size - 12)
    }

    private fun refusedOnError(block: () -> ByteArray): ByteArray = try {
        block()
    } catch (e: Exception) {
        throw KeyProtectorException.Refused(e.message ?: e.javaClass.simpleName)
    }
}
