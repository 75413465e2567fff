// TLSPeer is the Java side of escert's internal/realtest package: it loads key and
// trust material the way Elasticsearch does (PKCS#12 through KeyStore, PEM through
// KeyFactory and CertificateFactory) and then acts as a JSSE TLS server or client.
//
// Usage: java TLSPeer server|client|load <config.properties>
//        java TLSPeer daemon    (client and load requests from stdin, see daemon())
//
// The configuration is a java.util.Properties file written by the Go side with mode
// 0600, because passwords must never appear on a command line (ps shows them to every
// user). Keys:
//
//   key.p12, key.p12.password       PKCS#12 keystore (the key password is the store password)
//   key.pem, key.pem.password, cert.pem
//                                   PEM key (PKCS#8, encrypted PKCS#8, SEC1 or PKCS#1) and chain
//   trust.p12, trust.p12.password   PKCS#12 truststore (must hold trustedCertEntry entries)
//   trust.ca.N                      PEM CA files, N = 0, 1, ...
//   trust.pattern.N                 trust restriction patterns (see RestrictedTrustManager)
//   protocols                       comma-separated, e.g. TLSv1.3
//   clientauth                      "true": the server requires a client certificate
//   connect.host, connect.port      client: where to connect
//   verify.host                     client: name for SNI and HTTPS endpoint identification ("" = none)
//   line.wait.ms                    client: how long to wait for the server's line
//   reload.interval.ms              server: poll the key and trust files this often and
//                                   rebuild the SSLContext when they change (absent or 0: never)
//   reload.keycheck                 server: "false" lets a reload install a PEM key that does
//                                   not match its certificate, as Elasticsearch does
//
// Exit codes: 0 success, 1 connection or handshake failure, 2 usage, 3 the key or trust
// material could not be loaded. Errors go to stderr as one line.
//
// Server mode prints "READY <port>" on stdout once listening on 127.0.0.1, answers each
// connection with "OK <peer subject or -> <protocol> <server certificate SHA-256>" after
// the handshake, logs one line per connection on stderr, and exits when stdin reaches end
// of file, so a crashed Go test never leaves a JVM behind. With reload.interval.ms it also
// prints "RELOADED <n> <new leaf SHA-256>" or "RELOAD-FAILED <n> <message>" on stdout
// after each reload attempt (see Reloader).

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.AlgorithmParameters;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Cipher;
import javax.crypto.EncryptedPrivateKeyInfo;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

public final class TLSPeer {
    static final int EXIT_OK = 0;
    static final int EXIT_HANDSHAKE = 1;
    static final int EXIT_USAGE = 2;
    static final int EXIT_LOAD = 3;

    public static void main(String[] args) throws IOException {
        if (args.length == 1 && args[0].equals("daemon")) {
            daemon();
            return;
        }
        if (args.length != 2 || !Arrays.asList("server", "client", "load").contains(args[0])) {
            System.err.println("usage: TLSPeer server|client|load <config.properties> | TLSPeer daemon");
            System.exit(EXIT_USAGE);
        }
        if (!args[0].equals("server")) {
            try {
                System.out.println(once(args[0], args[1]));
                System.exit(EXIT_OK);
            } catch (Failure f) {
                System.err.println(f.getMessage());
                System.exit(f.code);
            }
        }
        Properties conf;
        Reloader reloader = null;
        AtomicReference<SSLContext> ctx;
        try {
            conf = loadConfig(args[1]);
            long intervalMs = Long.parseLong(conf.getProperty("reload.interval.ms", "0"));
            if (intervalMs > 0) {
                // Snapshot the files before loading them, so a change made while the
                // server starts is seen by the first poll.
                reloader = new Reloader(conf, intervalMs);
            }
            ctx = new AtomicReference<>(buildContext(conf, true).context);
        } catch (Exception e) {
            System.err.println(describe(e));
            System.exit(EXIT_LOAD);
            return;
        }
        try {
            serve(ctx, conf, reloader);
        } catch (Exception e) {
            System.err.println(describe(e));
            System.exit(EXIT_HANDSHAKE);
        }
    }

    // Failure is a failed client or load request with its exit code.
    static final class Failure extends Exception {
        private static final long serialVersionUID = 1L;
        final int code;

        Failure(int code, String message) {
            super(message);
            this.code = code;
        }
    }

    static Properties loadConfig(String path) throws IOException {
        Properties conf = new Properties();
        try (InputStream in = Files.newInputStream(Paths.get(path))) {
            conf.load(in);
        }
        return conf;
    }

    // once runs one client or load request and returns its stdout line.
    static String once(String mode, String confPath) throws Failure {
        Properties conf;
        SSLContext ctx;
        try {
            conf = loadConfig(confPath);
            ctx = buildContext(conf, true).context;
        } catch (Exception e) {
            throw new Failure(EXIT_LOAD, describe(e));
        }
        if (mode.equals("load")) {
            return "LOADED";
        }
        try {
            return connect(ctx, conf);
        } catch (Exception e) {
            throw new Failure(EXIT_HANDSHAKE, describe(e));
        }
    }

    // daemon serves client and load requests from stdin so a test process pays for one
    // JVM start instead of one per handshake. Each request is a line
    // "<id> client|load <config path>", handled on its own thread; each reply is a line
    // "<id> <exit code> <stdout line or error message>". Requests share nothing: every
    // one builds its own SSLContext (and so its own session cache). End of stdin ends
    // the daemon.
    static void daemon() throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
            String[] f = line.split(" ", 3);
            if (f.length != 3 || !(f[1].equals("client") || f[1].equals("load"))) {
                reply(f[0], EXIT_USAGE, "bad request: " + line);
                continue;
            }
            Thread t = new Thread(() -> {
                try {
                    reply(f[0], EXIT_OK, once(f[1], f[2]));
                } catch (Failure e) {
                    reply(f[0], e.code, e.getMessage());
                } catch (Throwable e) {
                    reply(f[0], EXIT_HANDSHAKE, describe(e));
                }
            }, "request-" + f[0]);
            t.setDaemon(true);
            t.start();
        }
        System.exit(EXIT_OK);
    }

    static synchronized void reply(String id, int code, String message) {
        System.out.println(id + " " + code + " " + message.replace('\n', ' ').replace('\r', ' '));
        System.out.flush();
    }

    // describe renders an exception and its causes on one line; JSSE often hides the
    // useful part (e.g. the PKIX reason) in a cause.
    static String describe(Throwable e) {
        StringBuilder sb = new StringBuilder(e.toString());
        for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
            String m = c.getMessage();
            if (m != null && sb.indexOf(m) >= 0) {
                continue;
            }
            sb.append("; caused by: ").append(c);
            if (c.getCause() == c) {
                break;
            }
        }
        return sb.toString().replace('\n', ' ');
    }

    // ---- key and trust material ------------------------------------------------------

    // Loaded is what buildContext made: the context, the leaf certificate of its key
    // material (null without one) and, when the key check was skipped, why the key does
    // not match that leaf (null when it does).
    static final class Loaded {
        final SSLContext context;
        final X509Certificate leaf;
        final String mismatch;

        Loaded(SSLContext context, X509Certificate leaf, String mismatch) {
            this.context = context;
            this.leaf = leaf;
            this.mismatch = mismatch;
        }
    }

    // buildContext loads the configured key and trust material into a new SSLContext.
    // With checkKey a PEM key that does not belong to its certificate is refused; without
    // it the pair is loaded anyway, as Elasticsearch's PemKeyConfig does (it never
    // compares them), and the mismatch is only reported in Loaded.mismatch.
    static Loaded buildContext(Properties conf, boolean checkKey) throws Exception {
        KeyManager[] keyManagers = null;
        X509Certificate leaf = null;
        String mismatch = null;
        String keyP12 = conf.getProperty("key.p12");
        String keyPem = conf.getProperty("key.pem");
        if (keyP12 != null) {
            char[] password = conf.getProperty("key.p12.password", "").toCharArray();
            KeyStore store = loadPKCS12(keyP12, password);
            requirePrivateKeyEntry(store, keyP12);
            keyManagers = keyManagers(store, password);
            for (String alias : Collections.list(store.aliases())) {
                if (store.isKeyEntry(alias) && store.getCertificate(alias) instanceof X509Certificate) {
                    leaf = (X509Certificate) store.getCertificate(alias);
                    break;
                }
            }
        } else if (keyPem != null) {
            String certPem = conf.getProperty("cert.pem");
            String keyPassword = conf.getProperty("key.pem.password");
            PrivateKey key = readPrivateKey(keyPem, keyPassword == null ? null : keyPassword.toCharArray());
            List<X509Certificate> chain = readCertificates(certPem);
            leaf = chain.get(0);
            try {
                checkKeyMatchesCertificate(key, leaf, keyPem, certPem);
            } catch (GeneralSecurityException e) {
                if (checkKey) {
                    throw e;
                }
                mismatch = e.getMessage();
            }
            // Elasticsearch's PemKeyConfig also builds an in-memory keystore for the
            // KeyManagerFactory; the password only protects it in memory.
            char[] password = "in-memory".toCharArray();
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            store.setKeyEntry("key", key, password, chain.toArray(new Certificate[0]));
            keyManagers = keyManagers(store, password);
        }

        X509ExtendedTrustManager trust = null;
        String trustP12 = conf.getProperty("trust.p12");
        List<String> caFiles = list(conf, "trust.ca.");
        List<String> patterns = list(conf, "trust.pattern.");
        if (trustP12 != null) {
            KeyStore store = loadPKCS12(trustP12, conf.getProperty("trust.p12.password", "").toCharArray());
            requireTrustedEntry(store, trustP12);
            trust = trustManager(store);
        } else if (!caFiles.isEmpty()) {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            for (int i = 0; i < caFiles.size(); i++) {
                List<X509Certificate> certs = readCertificates(caFiles.get(i));
                for (int j = 0; j < certs.size(); j++) {
                    store.setCertificateEntry("ca-" + i + "-" + j, certs.get(j));
                }
            }
            trust = trustManager(store);
        } else if (!patterns.isEmpty()) {
            trust = trustManager(null); // the JDK's cacerts, as Elasticsearch without trust settings
        }
        if (!patterns.isEmpty()) {
            trust = new RestrictedTrustManager(trust, patterns);
        }

        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(keyManagers, trust == null ? null : new TrustManager[] {trust}, null);
        return new Loaded(ctx, leaf, mismatch);
    }

    // watchedFiles lists every key and trust file of conf: the files Elasticsearch's
    // SSLConfigurationReloader watches for this configuration.
    static List<String> watchedFiles(Properties conf) {
        List<String> files = new ArrayList<>();
        for (String k : new String[] {"key.p12", "key.pem", "cert.pem", "trust.p12"}) {
            if (conf.getProperty(k) != null) {
                files.add(conf.getProperty(k));
            }
        }
        files.addAll(list(conf, "trust.ca."));
        return files;
    }

    static String sha256Hex(byte[] data) {
        try {
            byte[] sum = MessageDigest.getInstance("SHA-256").digest(data);
            StringBuilder sb = new StringBuilder(sum.length * 2);
            for (byte b : sum) {
                sb.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
            }
            return sb.toString();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e); // every JDK has SHA-256
        }
    }

    // fingerprint is the SHA-256 of a certificate's DER encoding in lowercase hex, "-"
    // for none.
    static String fingerprint(Certificate cert) {
        if (cert == null) {
            return "-";
        }
        try {
            return sha256Hex(cert.getEncoded());
        } catch (CertificateException e) {
            return "-";
        }
    }

    // Reloader mirrors Elasticsearch's SSLConfigurationReloader: it polls the key and
    // trust files (Elasticsearch: every resource.reload.interval.high, 5 s) and, when any
    // of them changed, rebuilds the SSLContext from the files. A context that loads
    // replaces the current one, so connections accepted from then on use it while open
    // connections keep theirs; one that fails to load leaves the current context in place.
    // Either way the attempt is reported on stdout ("RELOADED <n> <leaf SHA-256>" or
    // "RELOAD-FAILED <n> <message>") and logged on stderr.
    //
    // A change is any difference in a file's existence, modification time, size or
    // content hash; like Elasticsearch's FileWatcher, one change causes one attempt, also
    // when it fails, and the next attempt waits for the next change.
    static final class Reloader {
        final Properties conf;
        final long intervalMs;
        final boolean checkKey;
        final List<String> files;
        List<String> last;
        int reloaded;
        int failed;

        Reloader(Properties conf, long intervalMs) {
            this.conf = conf;
            this.intervalMs = intervalMs;
            this.checkKey = !"false".equals(conf.getProperty("reload.keycheck"));
            this.files = watchedFiles(conf);
            this.last = snapshot();
        }

        List<String> snapshot() {
            List<String> out = new ArrayList<>();
            for (String f : files) {
                Path p = Paths.get(f);
                try {
                    long mtime = Files.getLastModifiedTime(p).toMillis();
                    byte[] data = Files.readAllBytes(p);
                    out.add(mtime + " " + data.length + " " + sha256Hex(data));
                } catch (NoSuchFileException e) {
                    out.add("missing");
                } catch (IOException e) {
                    out.add("unreadable " + e);
                }
            }
            return out;
        }

        void start(AtomicReference<SSLContext> holder) {
            Thread t = new Thread(() -> {
                while (true) {
                    try {
                        Thread.sleep(intervalMs);
                    } catch (InterruptedException e) {
                        return;
                    }
                    poll(holder);
                }
            }, "ssl-reloader");
            t.setDaemon(true);
            t.start();
        }

        void poll(AtomicReference<SSLContext> holder) {
            List<String> now = snapshot();
            if (now.equals(last)) {
                return;
            }
            last = now;
            String event;
            try {
                Loaded loaded = buildContext(conf, checkKey);
                holder.set(loaded.context);
                reloaded++;
                event = "RELOADED " + reloaded + " " + fingerprint(loaded.leaf);
                if (loaded.mismatch != null) {
                    event += " key-mismatch: " + loaded.mismatch;
                }
            } catch (Exception e) {
                failed++;
                event = "RELOAD-FAILED " + failed + " " + describe(e);
            }
            System.out.println(event);
            System.out.flush();
            System.err.println(event);
        }
    }

    static List<String> list(Properties conf, String prefix) {
        List<String> out = new ArrayList<>();
        for (int i = 0; conf.getProperty(prefix + i) != null; i++) {
            out.add(conf.getProperty(prefix + i));
        }
        return out;
    }

    static KeyStore loadPKCS12(String path, char[] password) throws Exception {
        KeyStore store = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(Paths.get(path))) {
            store.load(in, password);
        } catch (IOException | GeneralSecurityException e) {
            throw new GeneralSecurityException("cannot read PKCS#12 file [" + path + "]: " + e.getMessage(), e);
        }
        return store;
    }

    // requirePrivateKeyEntry and requireTrustedEntry repeat Elasticsearch's StoreKeyConfig
    // and StoreTrustConfig checks (and their messages): a keystore needs a key entry, and a
    // truststore needs trustedCertEntry entries; a key entry's own chain does not count.
    static void requirePrivateKeyEntry(KeyStore store, String path) throws GeneralSecurityException {
        for (String alias : Collections.list(store.aliases())) {
            if (store.isKeyEntry(alias)) {
                return;
            }
        }
        throw new GeneralSecurityException("the keystore [" + path + "] does not contain a private key entry");
    }

    static void requireTrustedEntry(KeyStore store, String path) throws GeneralSecurityException {
        for (String alias : Collections.list(store.aliases())) {
            if (store.isCertificateEntry(alias)) {
                return;
            }
        }
        throw new GeneralSecurityException("the truststore [" + path + "] does not contain any trusted certificate entries");
    }

    static KeyManager[] keyManagers(KeyStore store, char[] password) throws GeneralSecurityException {
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(store, password);
        return kmf.getKeyManagers();
    }

    static X509ExtendedTrustManager trustManager(KeyStore store) throws GeneralSecurityException {
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(store);
        for (TrustManager tm : tmf.getTrustManagers()) {
            if (tm instanceof X509ExtendedTrustManager) {
                return (X509ExtendedTrustManager) tm;
            }
        }
        throw new GeneralSecurityException("no X509ExtendedTrustManager from " + tmf.getAlgorithm());
    }

    static List<X509Certificate> readCertificates(String path) throws Exception {
        List<X509Certificate> out = new ArrayList<>();
        try (InputStream in = Files.newInputStream(Paths.get(path))) {
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                out.add((X509Certificate) c);
            }
        } catch (CertificateException e) {
            throw new GeneralSecurityException("cannot read certificates from [" + path + "]: " + e.getMessage(), e);
        }
        if (out.isEmpty()) {
            throw new GeneralSecurityException("no certificates in [" + path + "]");
        }
        return out;
    }

    static final Pattern PEM_BLOCK =
            Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \\1-----", Pattern.DOTALL);

    // readPrivateKey reads the first private key PEM block, skipping others such as the
    // "EC PARAMETERS" block that `openssl ecparam -genkey` writes first.
    static PrivateKey readPrivateKey(String path, char[] password) throws Exception {
        String text = new String(Files.readAllBytes(Paths.get(path)), StandardCharsets.ISO_8859_1);
        Matcher m = PEM_BLOCK.matcher(text);
        while (m.find()) {
            String type = m.group(1);
            String body = m.group(2);
            if (!type.endsWith("PRIVATE KEY")) {
                continue;
            }
            if (body.contains("Proc-Type:")) {
                // Legacy OpenSSL encryption derives its key with MD5; escert never writes it.
                throw new GeneralSecurityException("[" + path + "]: legacy PEM encryption (Proc-Type/DEK-Info) is not supported");
            }
            byte[] der = Base64.getMimeDecoder().decode(body);
            switch (type) {
                case "PRIVATE KEY":
                    return pkcs8(der, path);
                case "ENCRYPTED PRIVATE KEY":
                    return pkcs8(decryptPKCS8(der, password, path), path);
                case "EC PRIVATE KEY":
                    return pkcs8(sec1ToPKCS8(der, path), path);
                case "RSA PRIVATE KEY":
                    return pkcs8(pkcs1ToPKCS8(der), path);
                default:
                    throw new GeneralSecurityException("[" + path + "]: unsupported PEM type " + type);
            }
        }
        throw new GeneralSecurityException("no private key PEM block in [" + path + "]");
    }

    // pkcs8 picks the KeyFactory from the PKCS#8 AlgorithmIdentifier, as Elasticsearch's
    // PemUtils does, instead of guessing.
    static PrivateKey pkcs8(byte[] der, String path) throws Exception {
        Der info = new Der(der).sequence();
        info.next(0x02); // version
        String oid = info.sequence().oid();
        String alg;
        switch (oid) {
            case "1.2.840.113549.1.1.1": alg = "RSA"; break;
            case "1.2.840.113549.1.1.10": alg = "RSASSA-PSS"; break;
            case "1.2.840.10045.2.1": alg = "EC"; break;
            case "1.2.840.10040.4.1": alg = "DSA"; break;
            case "1.3.101.112": alg = "Ed25519"; break;
            case "1.3.101.113": alg = "Ed448"; break;
            default:
                throw new GeneralSecurityException("[" + path + "]: unsupported private key algorithm " + oid);
        }
        return KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(der));
    }

    static byte[] decryptPKCS8(byte[] der, char[] password, String path) throws Exception {
        if (password == null) {
            throw new GeneralSecurityException("[" + path + "] is encrypted but no key password was given");
        }
        EncryptedPrivateKeyInfo info = new EncryptedPrivateKeyInfo(der);
        String alg = info.getAlgName();
        AlgorithmParameters params = info.getAlgParameters();
        // For PBES2 the JDK names the cipher only through its parameters, e.g.
        // PBEWithHmacSHA256AndAES_256; Elasticsearch's PemUtils asks for the same name.
        if ((alg.equals("PBES2") || alg.equals("1.2.840.113549.1.5.13")) && params != null) {
            alg = params.toString();
        }
        SecretKeyFactory skf = SecretKeyFactory.getInstance(alg);
        Cipher cipher = Cipher.getInstance(alg);
        cipher.init(Cipher.DECRYPT_MODE, skf.generateSecret(new PBEKeySpec(password)), params);
        try {
            return info.getKeySpec(cipher).getEncoded();
        } catch (GeneralSecurityException e) {
            // A wrong password shows up as bad padding, or (when the padding happens to
            // look valid) as garbage that is not PKCS#8: report both the same way.
            throw new GeneralSecurityException("cannot decrypt [" + path + "] (" + alg + "): wrong key password?", e);
        }
    }

    static final byte[] INTEGER_ZERO = {0x02, 0x01, 0x00};
    static final byte[] OID_EC_PUBLIC_KEY = {0x06, 0x07, 0x2a, (byte) 0x86, 0x48, (byte) 0xce, 0x3d, 0x02, 0x01};
    static final byte[] OID_RSA_ENCRYPTION =
            {0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01, 0x01, 0x01};
    static final byte[] NULL = {0x05, 0x00};

    // sec1ToPKCS8 wraps an RFC 5915 ECPrivateKey in PrivateKeyInfo; the curve moves from
    // the key's [0] parameters into the AlgorithmIdentifier.
    static byte[] sec1ToPKCS8(byte[] sec1, String path) throws Exception {
        Der key = new Der(sec1).sequence();
        key.next(0x02); // version 1
        key.next(0x04); // private key
        byte[] curve = null;
        while (key.more()) {
            Der.TLV f = key.next(-1);
            if (f.tag == 0xa0) {
                curve = f.contents();
            }
        }
        if (curve == null) {
            throw new GeneralSecurityException("[" + path + "]: EC PRIVATE KEY without curve parameters");
        }
        return Der.tlv(0x30, INTEGER_ZERO, Der.tlv(0x30, OID_EC_PUBLIC_KEY, curve), Der.tlv(0x04, sec1));
    }

    static byte[] pkcs1ToPKCS8(byte[] pkcs1) {
        return Der.tlv(0x30, INTEGER_ZERO, Der.tlv(0x30, OID_RSA_ENCRYPTION, NULL), Der.tlv(0x04, pkcs1));
    }

    // checkKeyMatchesCertificate signs a probe so a key that does not belong to the leaf
    // certificate fails here with a clear message rather than as a vague handshake error.
    static void checkKeyMatchesCertificate(PrivateKey key, X509Certificate cert, String keyPath, String certPath)
            throws GeneralSecurityException {
        String alg;
        switch (key.getAlgorithm()) {
            case "RSA": alg = "SHA256withRSA"; break;
            case "EC": alg = "SHA256withECDSA"; break;
            case "EdDSA": case "Ed25519": case "Ed448": alg = "EdDSA"; break;
            default: return;
        }
        byte[] probe = "escert realtest key check".getBytes(StandardCharsets.US_ASCII);
        boolean ok;
        try {
            Signature s = Signature.getInstance(alg);
            s.initSign(key);
            s.update(probe);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance(alg);
            v.initVerify(cert.getPublicKey());
            v.update(probe);
            ok = v.verify(sig);
        } catch (InvalidKeyException | java.security.SignatureException e) {
            ok = false;
        }
        if (!ok) {
            throw new GeneralSecurityException("the key [" + keyPath + "] does not match the certificate ["
                    + certPath + "] (" + cert.getSubjectX500Principal() + ")");
        }
    }

    // ---- trust restrictions ---------------------------------------------------------

    // RestrictedTrustManager mirrors Elasticsearch's RestrictedTrustManager (transport
    // trust_restrictions with the default x509_fields subjectAltName.otherName.commonName):
    // after normal chain validation the peer's leaf must carry an otherName SAN with
    // type-id 2.5.4.3 whose string value matches one of the patterns. Patterns are
    // Elasticsearch wildcards: '*' any run of characters, '?' one character, '\' escapes
    // the next one. Lucene regular expressions (/.../) are not emulated and are refused.
    static final class RestrictedTrustManager extends X509ExtendedTrustManager {
        static final String CN_OID = "2.5.4.3";
        final X509ExtendedTrustManager delegate;
        final List<String> patterns;
        final List<Pattern> compiled = new ArrayList<>();

        RestrictedTrustManager(X509ExtendedTrustManager delegate, List<String> patterns) throws GeneralSecurityException {
            this.delegate = delegate;
            this.patterns = patterns;
            for (String p : patterns) {
                compiled.add(wildcard(p));
            }
        }

        static Pattern wildcard(String p) throws GeneralSecurityException {
            if (p.startsWith("/")) {
                throw new GeneralSecurityException("regular-expression trust pattern " + p + " is not emulated");
            }
            StringBuilder re = new StringBuilder();
            for (int i = 0; i < p.length(); i++) {
                char c = p.charAt(i);
                if (c == '*') {
                    re.append(".*");
                } else if (c == '?') {
                    re.append('.');
                } else if (c == '\\' && i + 1 < p.length()) {
                    re.append(Pattern.quote(String.valueOf(p.charAt(++i))));
                } else {
                    re.append(Pattern.quote(String.valueOf(c)));
                }
            }
            return Pattern.compile(re.toString(), Pattern.DOTALL);
        }

        void verify(X509Certificate[] chain) throws CertificateException {
            if (chain == null || chain.length == 0) {
                throw new CertificateException("No certificate presented");
            }
            List<String> names = otherNameCommonNames(chain[0]);
            for (String name : names) {
                for (Pattern p : compiled) {
                    if (p.matcher(name).matches()) {
                        return;
                    }
                }
            }
            // Same wording as Elasticsearch's message.
            throw new CertificateException("Certificate for " + chain[0].getSubjectX500Principal()
                    + " with fields " + names + " does not match the trusted names " + patterns);
        }

        static List<String> otherNameCommonNames(X509Certificate cert) throws CertificateException {
            List<String> out = new ArrayList<>();
            Collection<List<?>> sans = cert.getSubjectAlternativeNames();
            if (sans == null) {
                return out;
            }
            for (List<?> san : sans) {
                if (((Integer) san.get(0)) != 0 || !(san.get(1) instanceof byte[])) {
                    continue;
                }
                try {
                    String v = decodeOtherName((byte[]) san.get(1));
                    if (v != null) {
                        out.add(v);
                    }
                } catch (IOException e) {
                    throw new CertificateException("cannot parse otherName SAN of " + cert.getSubjectX500Principal(), e);
                }
            }
            return out;
        }

        // decodeOtherName reads OtherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY }
        // as X509Certificate.getSubjectAlternativeNames returns it, and the string value
        // when the type-id is 2.5.4.3. The JDK re-wraps the [0] value in a second [0] tag
        // (sun.security.x509.OtherName keeps the tagged value and encode() tags it again);
        // Elasticsearch descends one extra level for that, and so do we.
        static String decodeOtherName(byte[] der) throws IOException {
            Der seq = new Der(der).sequence();
            if (!seq.oid().equals(CN_OID)) {
                return null;
            }
            Der.TLV value = seq.next(0xa0);
            Der.TLV inner = new Der(value.contents()).next(-1);
            if ((inner.tag & 0x20) != 0) {
                inner = new Der(inner.contents()).next(-1);
            }
            switch (inner.tag) {
                case 0x0c: // UTF8String
                    return new String(inner.contents(), StandardCharsets.UTF_8);
                case 0x1e: // BMPString
                    return new String(inner.contents(), StandardCharsets.UTF_16BE);
                case 0x12: case 0x13: case 0x14: case 0x15: case 0x16: case 0x19: case 0x1a: case 0x1b:
                    // Numeric, Printable, T61, Videotex, IA5, Graphic, Visible (ISO646), General.
                    return new String(inner.contents(), StandardCharsets.ISO_8859_1);
                default:
                    throw new IOException("otherName commonName has unsupported ASN.1 type 0x" + Integer.toHexString(inner.tag));
            }
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            delegate.checkClientTrusted(chain, authType);
            verify(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            delegate.checkServerTrusted(chain, authType);
            verify(chain);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
            delegate.checkClientTrusted(chain, authType, socket);
            verify(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
            delegate.checkServerTrusted(chain, authType, socket);
            verify(chain);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
            delegate.checkClientTrusted(chain, authType, engine);
            verify(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
            delegate.checkServerTrusted(chain, authType, engine);
            verify(chain);
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return delegate.getAcceptedIssuers();
        }
    }

    // Der is the smallest DER reader and writer the key formats and otherName need:
    // definite lengths only, no tag numbers above 30.
    static final class Der {
        final byte[] buf;
        int pos;
        final int end;

        Der(byte[] buf) {
            this(buf, 0, buf.length);
        }

        Der(byte[] buf, int start, int end) {
            this.buf = buf;
            this.pos = start;
            this.end = end;
        }

        static final class TLV {
            final int tag;
            final byte[] buf;
            final int start;
            final int end;

            TLV(int tag, byte[] buf, int start, int end) {
                this.tag = tag;
                this.buf = buf;
                this.start = start;
                this.end = end;
            }

            byte[] contents() {
                return Arrays.copyOfRange(buf, start, end);
            }
        }

        boolean more() {
            return pos < end;
        }

        // next reads one element; wantTag -1 accepts any tag.
        TLV next(int wantTag) throws IOException {
            if (pos + 2 > end) {
                throw new IOException("truncated DER");
            }
            int tag = buf[pos++] & 0xff;
            if ((tag & 0x1f) == 0x1f) {
                throw new IOException("high tag numbers are not supported");
            }
            int len = buf[pos++] & 0xff;
            if (len >= 0x80) {
                int n = len & 0x7f;
                if (n == 0 || n > 3 || pos + n > end) {
                    throw new IOException("unsupported DER length");
                }
                len = 0;
                for (int i = 0; i < n; i++) {
                    len = (len << 8) | (buf[pos++] & 0xff);
                }
            }
            if (pos + len > end) {
                throw new IOException("truncated DER");
            }
            if (wantTag >= 0 && tag != wantTag) {
                throw new IOException("expected DER tag 0x" + Integer.toHexString(wantTag) + ", got 0x" + Integer.toHexString(tag));
            }
            TLV t = new TLV(tag, buf, pos, pos + len);
            pos += len;
            return t;
        }

        Der sequence() throws IOException {
            TLV t = next(0x30);
            return new Der(buf, t.start, t.end);
        }

        String oid() throws IOException {
            TLV t = next(0x06);
            StringBuilder sb = new StringBuilder();
            BigInteger v = BigInteger.ZERO;
            boolean first = true;
            for (int i = t.start; i < t.end; i++) {
                v = v.shiftLeft(7).or(BigInteger.valueOf(buf[i] & 0x7f));
                if ((buf[i] & 0x80) == 0) {
                    if (first) {
                        int a = v.compareTo(BigInteger.valueOf(80)) >= 0 ? 2 : v.intValue() / 40;
                        sb.append(a).append('.').append(v.subtract(BigInteger.valueOf(40L * a)));
                        first = false;
                    } else {
                        sb.append('.').append(v);
                    }
                    v = BigInteger.ZERO;
                }
            }
            return sb.toString();
        }

        static byte[] tlv(int tag, byte[]... parts) {
            ByteArrayOutputStream content = new ByteArrayOutputStream();
            for (byte[] p : parts) {
                content.writeBytes(p);
            }
            int len = content.size();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.write(tag);
            if (len < 0x80) {
                out.write(len);
            } else if (len < 0x100) {
                out.write(0x81);
                out.write(len);
            } else if (len < 0x10000) {
                out.write(0x82);
                out.write(len >> 8);
                out.write(len);
            } else {
                out.write(0x83);
                out.write(len >> 16);
                out.write(len >> 8);
                out.write(len);
            }
            out.writeBytes(content.toByteArray());
            return out.toByteArray();
        }
    }

    // ---- server and client ------------------------------------------------------------

    static void applyProtocols(SSLParameters params, Properties conf) {
        String protocols = conf.getProperty("protocols", "");
        if (!protocols.isEmpty()) {
            params.setProtocols(protocols.split(","));
        }
    }

    // serve accepts TCP connections on 127.0.0.1 and layers TLS over each one with the
    // SSLContext current at accept time, as Elasticsearch builds each channel's SSLEngine
    // from its SSLContextHolder: after a reload new connections use the new context and
    // open ones keep theirs.
    static void serve(AtomicReference<SSLContext> holder, Properties conf, Reloader reloader) throws IOException {
        ServerSocket server = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
        boolean needClientAuth = Boolean.parseBoolean(conf.getProperty("clientauth", "false"));

        // The Go side holds our stdin open; end of file means it is gone or done.
        Thread watchdog = new Thread(() -> {
            try {
                while (System.in.read() >= 0) {
                    // discard
                }
            } catch (IOException ignored) {
                // treat like end of file
            }
            System.exit(EXIT_OK);
        }, "stdin-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();

        System.out.println("READY " + server.getLocalPort());
        System.out.flush();
        if (reloader != null) {
            reloader.start(holder);
        }
        while (true) {
            Socket raw = server.accept();
            SSLContext ctx = holder.get();
            Thread t = new Thread(() -> answer(ctx, raw, conf, needClientAuth), "conn-" + raw.getPort());
            t.setDaemon(true);
            t.start();
        }
    }

    static void answer(SSLContext ctx, Socket raw, Properties conf, boolean needClientAuth) {
        try (Socket r = raw) {
            r.setSoTimeout(30_000); // a stuck client must not pin a thread forever
            // A server-mode socket layered over the accepted connection.
            SSLSocket sock = (SSLSocket) ctx.getSocketFactory().createSocket(r, null, true);
            SSLParameters params = sock.getSSLParameters();
            params.setNeedClientAuth(needClientAuth);
            applyProtocols(params, conf);
            sock.setSSLParameters(params);
            sock.startHandshake();
            SSLSession session = sock.getSession();
            String peer = "-";
            try {
                peer = ((X509Certificate) session.getPeerCertificates()[0]).getSubjectX500Principal().getName();
            } catch (SSLPeerUnverifiedException e) {
                // no client certificate
            }
            Certificate[] local = session.getLocalCertificates();
            String served = fingerprint(local == null || local.length == 0 ? null : local[0]);
            String line = "OK " + peer + " " + session.getProtocol() + " " + served;
            OutputStream out = sock.getOutputStream();
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            sock.close();
            System.err.println("accepted " + raw.getPort() + ": " + line);
        } catch (Exception e) {
            System.err.println("rejected " + raw.getPort() + ": " + describe(e));
        }
    }

    // connect completes a handshake and returns the server's first line. Reading matters:
    // in TLS 1.3 the client finishes its handshake before the server has checked the
    // client certificate, so a rejection only shows up as an alert on the first read.
    // A peer that sends nothing for line.wait.ms, or closes cleanly, has accepted us.
    static String connect(SSLContext ctx, Properties conf) throws IOException {
        String host = conf.getProperty("connect.host");
        int port = Integer.parseInt(conf.getProperty("connect.port"));
        String verifyHost = conf.getProperty("verify.host", "");
        int waitMs = Integer.parseInt(conf.getProperty("line.wait.ms", "10000"));

        Socket raw = new Socket();
        raw.connect(new InetSocketAddress(host, port), 10_000);
        raw.setSoTimeout(30_000);
        // The layered socket takes its peer host from this argument: JSSE uses it for SNI
        // and endpoint identification, so we can dial 127.0.0.1 and verify a DNS name.
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory()
                .createSocket(raw, verifyHost.isEmpty() ? host : verifyHost, port, true)) {
            SSLParameters params = s.getSSLParameters();
            if (!verifyHost.isEmpty()) {
                params.setEndpointIdentificationAlgorithm("HTTPS");
            }
            applyProtocols(params, conf);
            s.setSSLParameters(params);
            s.startHandshake();
            s.setSoTimeout(waitMs);
            BufferedReader r = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            try {
                String line = r.readLine();
                return line == null ? "CLOSED " + s.getSession().getProtocol() : line;
            } catch (SocketTimeoutException e) {
                return "SILENT " + s.getSession().getProtocol();
            }
        }
    }
}
