import java.security.Provider;
import java.security.Security;

/**
 * Prints, for each "Type.Algorithm" argument (e.g. KeyStore.PKCS12), the name of the
 * provider the JVM picks for it, as Elasticsearch's getInstance calls do, or "none".
 * Run with a FIPS JVM's options, it shows which module does each job.
 */
public class FIPSProviders {
    public static void main(String[] args) {
        for (String arg : args) {
            int dot = arg.indexOf('.');
            String type = arg.substring(0, dot), algorithm = arg.substring(dot + 1);
            String name = "none";
            for (Provider p : Security.getProviders()) {
                if (p.getService(type, algorithm) != null) {
                    name = p.getName();
                    break;
                }
            }
            System.out.println(arg + " " + name);
        }
    }
}
