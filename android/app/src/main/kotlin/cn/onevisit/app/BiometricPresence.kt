package cn.onevisit.app

import android.os.Build
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import androidx.biometric.BiometricManager
import androidx.biometric.BiometricPrompt
import androidx.core.content.ContextCompat
import androidx.fragment.app.FragmentActivity
import cn.onevisit.ffi.PresenceException
import cn.onevisit.ffi.PresenceVerifier
import cn.onevisit.ffi.SignerPresence
import java.security.KeyPairGenerator
import java.security.KeyStore
import java.security.PrivateKey
import java.security.Signature
import java.security.spec.ECGenParameterSpec
import java.util.concurrent.CompletableFuture
import java.util.concurrent.TimeUnit
import java.util.concurrent.TimeoutException

/**
 * The signer's presence, asked before every signature: a BiometricPrompt (biometrics or the
 * device's PIN/pattern/password) that unlocks a Keystore key requiring user authentication for
 * exactly one operation, which then signs the prompt. The key cannot sign without the user, so
 * the answer is bound to the platform key, not only to the prompt's callback.
 *
 * Called by the core on a background thread; it shows the prompt on [activity]'s main thread and
 * waits (at most two minutes) for the user.
 */
class BiometricPresence(
    private val activity: () -> FragmentActivity?,
    private val alias: String = "onevisit-signing-presence",
) : PresenceVerifier {
    private val authenticators =
        BiometricManager.Authenticators.BIOMETRIC_STRONG or BiometricManager.Authenticators.DEVICE_CREDENTIAL

    private fun key(): PrivateKey {
        val keyStore = KeyStore.getInstance("AndroidKeyStore").apply { load(null) }
        (keyStore.getKey(alias, null) as? PrivateKey)?.let { return it }
        val spec = KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_SIGN)
            .setAlgorithmParameterSpec(ECGenParameterSpec("secp256r1"))
            .setDigests(KeyProperties.DIGEST_SHA256)
            .setUserAuthenticationRequired(true)
            .setInvalidatedByBiometricEnrollment(true)
            .apply {
                if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
                    // Every use needs a fresh authentication, by biometrics or the device credential.
                    setUserAuthenticationParameters(0, KeyProperties.AUTH_BIOMETRIC_STRONG or KeyProperties.AUTH_DEVICE_CREDENTIAL)
                } else {
                    @Suppress("DEPRECATION")
                    setUserAuthenticationValidityDurationSeconds(-1)
                }
            }
            .build()
        val generator = KeyPairGenerator.getInstance(KeyProperties.KEY_ALGORITHM_EC, "AndroidKeyStore")
        generator.initialize(spec)
        return generator.generateKeyPair().private
    }

    override fun confirm(prompt: String): SignerPresence {
        val host = activity() ?: throw PresenceException.Unavailable("没有可显示验证界面的窗口")
        val can = BiometricManager.from(host).canAuthenticate(authenticators)
        if (can != BiometricManager.BIOMETRIC_SUCCESS) {
            throw PresenceException.Unavailable("未设置锁屏密码或生物识别（代码 $can）")
        }
        val signature = try {
            Signature.getInstance("SHA256withECDSA").apply { initSign(key()) }
        } catch (e: Exception) {
            throw PresenceException.Unavailable(e.message ?: e.javaClass.simpleName)
        }
        val answer = CompletableFuture<SignerPresence>()
        host.runOnUiThread {
            val callback = object : BiometricPrompt.AuthenticationCallback() {
                override fun onAuthenticationSucceeded(result: BiometricPrompt.AuthenticationResult) {
                    try {
                        // The key signs only now that the user unlocked it: the check is bound to it.
                        val unlocked = result.cryptoObject?.signature ?: error("no crypto object")
                        unlocked.update(prompt.toByteArray(Charsets.UTF_8))
                        unlocked.sign()
                        answer.complete(
                            if (result.authenticationType == BiometricPrompt.AUTHENTICATION_RESULT_TYPE_BIOMETRIC) {
                                SignerPresence.BIOMETRIC
                            } else {
                                SignerPresence.DEVICE_CREDENTIAL
                            },
                        )
                    } catch (e: Exception) {
                        answer.completeExceptionally(e)
                    }
                }

                override fun onAuthenticationError(errorCode: Int, errString: CharSequence) {
                    answer.completeExceptionally(PresenceException.NotConfirmed())
                }
            }
            val info = BiometricPrompt.PromptInfo.Builder()
                .setTitle("确认本人签署")
                .setSubtitle(prompt)
                .setAllowedAuthenticators(authenticators)
                .build()
            BiometricPrompt(host, ContextCompat.getMainExecutor(host), callback)
                .authenticate(info, BiometricPrompt.CryptoObject(signature))
        }
        return try {
            answer.get(2, TimeUnit.MINUTES)
        } catch (e: TimeoutException) {
            throw PresenceException.NotConfirmed()
        } catch (e: java.util.concurrent.ExecutionException) {
            throw (e.cause as? PresenceException) ?: PresenceException.NotConfirmed()
        }
    }
}
