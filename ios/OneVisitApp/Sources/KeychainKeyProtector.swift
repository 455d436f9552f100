import CryptoKit
import Foundation
import OneVisitKit
import Security

/// Seals the device's signing-key seed with an AES-256-GCM key kept in the Keychain, readable only
/// on this device after its first unlock (never in backups).
final class KeychainKeyProtector: KeyProtector, @unchecked Sendable {
    private let account = "onevisit-device-seed-key"

    private func key() throws -> SymmetricKey {
        let query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrAccount as String: account,
            kSecReturnData as String: true,
        ]
        var item: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &item)
        if status == errSecSuccess, let data = item as? Data { return SymmetricKey(data: data) }
        guard status == errSecItemNotFound else { throw KeyProtectorError.Refused(detail: "Keychain \(status)") }
        let fresh = SymmetricKey(size: .bits256)
        let add: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrAccount as String: account,
            kSecAttrAccessible as String: kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
            kSecValueData as String: fresh.withUnsafeBytes { Data($0) },
        ]
        let added = SecItemAdd(add as CFDictionary, nil)
        guard added == errSecSuccess else { throw KeyProtectorError.Refused(detail: "Keychain \(added)") }
        return fresh
    }

    func seal(seed: Data) throws -> Data {
        do {
            guard let combined = try AES.GCM.seal(seed, using: key()).combined else {
                throw KeyProtectorError.Refused(detail: "AES-GCM")
            }
            return combined
        } catch let e as KeyProtectorError {
            throw e
        } catch {
            throw KeyProtectorError.Refused(detail: error.localizedDescription)
        }
    }

    func open(sealed: Data) throws -> Data {
        do {
            return try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: key())
        } catch let e as KeyProtectorError {
            throw e
        } catch {
            throw KeyProtectorError.Refused(detail: error.localizedDescription)
        }
    }
}
