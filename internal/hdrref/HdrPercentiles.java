// Reads HdrHistogram V2 compressed, base64 histograms, one a line on
// standard input, and prints for each the values that HdrHistogram's
// reference Java library reports: the total count, then the value at each
// percentile given as an argument, then the max, separated by spaces.
// bestbefore's tests run it with Debian's libhdrhistogram-java.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.util.Base64;
import org.HdrHistogram.Histogram;

public class HdrPercentiles {
    public static void main(String[] args) throws Exception {
        double[] ps = new double[args.length];
        for (int i = 0; i < args.length; i++) {
            ps[i] = Double.parseDouble(args[i]);
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "US-ASCII"));
        StringBuilder out = new StringBuilder();
        for (String line; (line = in.readLine()) != null; ) {
            line = line.trim();
            if (line.isEmpty()) {
                continue;
            }
            byte[] raw = Base64.getDecoder().decode(line);
            Histogram h = Histogram.decodeFromCompressedByteBuffer(ByteBuffer.wrap(raw), 0);
            out.append(h.getTotalCount());
            for (double p : ps) {
                out.append(' ').append(h.getValueAtPercentile(p));
            }
            out.append(' ').append(h.getMaxValue()).append('\n');
        }
        System.out.print(out);
    }
}
