// Workload 7's reference: a libindi C++ driver (INDI::DefaultDevice) that updates a 3-member
// NumberVector EMIT_COUNT times in a tight loop with IDSetNumber, like the indi-ts driver in
// packages/indi-driver/bench/emit-driver.mjs. It starts when the first getProperties arrives and exits
// when done. Built by bench/run.mjs with g++ against libindidriver (Debian libindi-dev).
#include <libindi/defaultdevice.h>

#include <cstdlib>
#include <memory>

class Emit : public INDI::DefaultDevice
{
  public:
    const char *getDefaultName() override { return "Bench"; }

    bool initProperties() override
    {
        INDI::DefaultDevice::initProperties();
        IUFillNumber(&eq[0], "RA", "RA", "%010.6m", 0, 24, 0, 0);
        IUFillNumber(&eq[1], "DEC", "DEC", "%010.6m", -90, 90, 0, 0);
        IUFillNumber(&eq[2], "ALT", "ALT", "%g", 0, 0, 0, 0);
        IUFillNumberVector(&eqP, eq, 3, getDeviceName(), "EQUATORIAL_EOD_COORD", "Eq", MAIN_CONTROL_TAB, IP_RO, 0,
                           IPS_OK);
        return true;
    }

    void ISGetProperties(const char *dev) override
    {
        INDI::DefaultDevice::ISGetProperties(dev);
        defineProperty(&eqP);
        if (started)
            return;
        started = true;
        const char *env = getenv("EMIT_COUNT");
        long n = env ? atol(env) : 1000000;
        for (long i = 0; i < n; i++)
        {
            eq[0].value = (i % 86400) / 3600.0;
            eq[1].value = (i % 180) - 90 + 0.25;
            eq[2].value = i;
            IDSetNumber(&eqP, nullptr);
        }
        fflush(stdout);
        exit(0);
    }

  private:
    INumber eq[3];
    INumberVectorProperty eqP;
    bool started = false;
};

static std::unique_ptr<Emit> emitter(new Emit());
