import Foundation
import LocalAuthentication
import OneVisitKit
import Security

/// The signer's presence, asked before every signature: Face ID / Touch ID, or the device passcode,
/// through a Secure Enclave key created with `.userPresence` that signs the prompt. The key cannot
/// sign without the user, so the answer is bound to the platform key, not only to the prompt.
/// Called by the core on a background thread; it blocks until the user answers.
final class UserPresenceVerifier: PresenceVerifier, @unchecked Sendable {
    private let tag = "cn.onevisit.signing-presence".data(using: .utf8)!

    private func key(context: LAContext) throws -> SecKey {
        let query: [String: Any] = [
            kSecClass as String: kSecClassKey,
            kSecAttrApplicationTag as String: tag,
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecReturnRef as String: true,
            kSecUseAuthenticationContext as String: context,
        ]
        var item: CFTypeRef?
        if SecItemCopyMatching(query as CFDictionary, &item) == errSecSuccess, let item {
            return (item as! SecKey)
        }
        var error: Unmanaged<CFError>?
        guard let access = SecAccessControlCreateWithFlags(
            nil, kSecAttrAccessibleWhenPasscodeSetThisDeviceOnly, [.privateKeyUsage, .userPresence], &error
        ) else {
            throw PresenceError.Unavailable(detail: "\(error!.takeRetainedValue())")
        }
        let attributes: [String: Any] = [
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecAttrKeySizeInBits as String: 256,
            kSecAttrTokenID as String: kSecAttrTokenIDSecureEnclave,
            kSecPrivateKeyAttrs as String: [
                kSecAttrIsPermanent as String: true,
                kSecAttrApplicationTag as String: tag,
                kSecAttrAccessControl as String: access,
            ],
        ]
        guard let key = SecKeyCreateRandomKey(attributes as CFDictionary, &error) else {
            throw PresenceError.Unavailable(detail: "\(error!.takeRetainedValue())")
        }
        return key
    }

    /// Evaluates `policy` with `reason`, waiting for the user.
    private func evaluate(_ context: LAContext, _ policy: LAPolicy, _ reason: String) -> Bool {
        let done = DispatchSemaphore(value: 0)
        var ok = false
        context.evaluatePolicy(policy, localizedReason: reason) { success, _ in
            ok = success
            done.signal()
        }
        done.wait()
        return ok
    }

    func confirm(prompt: String) throws -> SignerPresence {
        let context = LAContext()
        context.localizedFallbackTitle = "输入设备密码"
        var error: NSError?
        guard context.canEvaluatePolicy(.deviceOwnerAuthentication, error: &error) else {
            throw PresenceError.Unavailable(detail: "未设置设备密码或面容/触控 ID：\(error?.localizedDescription ?? "")")
        }
        // Biometrics first; the passcode when the user falls back to it.
        let presence: SignerPresence
        if context.canEvaluatePolicy(.deviceOwnerAuthenticationWithBiometrics, error: nil),
           evaluate(context, .deviceOwnerAuthenticationWithBiometrics, prompt) {
            presence = .biometric
        } else if evaluate(context, .deviceOwnerAuthentication, prompt) {
            presence = .deviceCredential
        } else {
            throw PresenceError.NotConfirmed
        }
        // The authenticated context unlocks the `.userPresence` key for this signature.
        var signError: Unmanaged<CFError>?
        let key = try key(context: context)
        guard SecKeyCreateSignature(
            key, .ecdsaSignatureMessageX962SHA256, Data(prompt.utf8) as CFData, &signError
        ) != nil else {
            throw PresenceError.NotConfirmed
        }
        return presence
    }
}
